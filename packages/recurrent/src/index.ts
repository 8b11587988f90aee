// @attend/recurrent — public API (filled in by its issue).
export const PACKAGE = '@attend/recurrent';
