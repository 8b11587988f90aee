// Minimal glob matching for `loadCorpus`'s `include` patterns: `**` (any number of directories),
// `*` (any run of characters within one path segment), `?` (one character), `{a,b}` (either).
// As in .gitignore, a pattern without `/` matches the file name at any depth ("*.c");
// one with `/` matches the whole path relative to the directory searched ("src/**/*.ts").

const SPECIAL = /[\\^$.+()|[\]{}]/;

function body(pattern: string): string {
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '{' && pattern.indexOf('}', i) > i) {
      const end = pattern.indexOf('}', i);
      re += `(?:${pattern.slice(i + 1, end).split(',').map(body).join('|')})`;
      i = end;
    } else re += SPECIAL.test(c) ? `\\${c}` : c;
  }
  return re;
}

/** A matcher for one glob pattern, tested against `/`-separated relative paths. */
export function globMatcher(pattern: string): (relPath: string) => boolean {
  const p = pattern.replace(/^\.\//, '');
  const re = new RegExp(`^${body(p)}$`, 'u');
  if (p.includes('/')) return (rel) => re.test(rel);
  return (rel) => re.test(rel.slice(rel.lastIndexOf('/') + 1));
}

/** A matcher for any of `patterns` (no patterns: everything matches). */
export function globsMatcher(patterns: readonly string[]): (relPath: string) => boolean {
  if (patterns.length === 0) return () => true;
  const ms = patterns.map(globMatcher);
  return (rel) => ms.some((m) => m(rel));
}
