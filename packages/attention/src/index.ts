// @attend/attention — public API (filled in by its issue).
export const PACKAGE = '@attend/attention';
