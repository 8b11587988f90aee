// @attend/datasets/node — Node-only parts (fs, streams).
export const NODE_ENTRY = '@attend/datasets/node';
