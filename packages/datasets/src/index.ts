// @attend/datasets — public API (filled in by its issue).
export const PACKAGE = '@attend/datasets';
