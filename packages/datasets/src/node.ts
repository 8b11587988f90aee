// @attend/datasets/node — Node-only parts: streaming corpus loading, the data folder, the default corpus.
export { loadCorpus, listCorpusFiles, type Corpus, type LoadCorpusOptions } from './corpus.js';
export { checkCorpusLength, minCorpusLength } from './check.js';
export { DEFAULT_CORPUS_NAME, dataDir, defaultCorpusPath, requireDataFile } from './data-dir.js';
export { globMatcher, globsMatcher } from './glob.js';
