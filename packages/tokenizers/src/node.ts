// @attend/tokenizers/node — Node-only parts (fs, streams).
export const NODE_ENTRY = '@attend/tokenizers/node';
