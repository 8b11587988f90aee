// @attend/training/node — Node-only parts (fs, streams).
export const NODE_ENTRY = '@attend/training/node';
