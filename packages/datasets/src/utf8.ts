// Finds where a byte stream stops being valid UTF-8, with the same rules as the WHATWG UTF-8
// decoder (`TextDecoder` with `fatal: true`): no overlong forms, no surrogates, nothing past
// U+10FFFF. Used only after `TextDecoder` rejected a file, to say at which byte.

/** A streaming UTF-8 validator: `push` chunks, then `end`. */
export class Utf8Validator {
  private needed = 0;
  private lower = 0x80;
  private upper = 0xbf;
  private start = 0;
  private offset = 0;

  /** Feeds the next bytes; returns the file offset of the first invalid sequence, or -1. */
  push(bytes: Uint8Array): number {
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      const at = this.offset + i;
      if (this.needed === 0) {
        if (b <= 0x7f) continue;
        this.start = at;
        if (b >= 0xc2 && b <= 0xdf) this.needed = 1;
        else if (b >= 0xe0 && b <= 0xef) {
          if (b === 0xe0) this.lower = 0xa0;
          if (b === 0xed) this.upper = 0x9f;
          this.needed = 2;
        } else if (b >= 0xf0 && b <= 0xf4) {
          if (b === 0xf0) this.lower = 0x90;
          if (b === 0xf4) this.upper = 0x8f;
          this.needed = 3;
        } else return at;
        continue;
      }
      if (b < this.lower || b > this.upper) return this.start;
      this.lower = 0x80;
      this.upper = 0xbf;
      this.needed--;
    }
    this.offset += bytes.length;
    return -1;
  }

  /** At end of input: the offset of a truncated final sequence, or -1. */
  end(): number {
    return this.needed > 0 ? this.start : -1;
  }
}
