// @attend/transformer — public API (filled in by its issue).
export const PACKAGE = '@attend/transformer';
