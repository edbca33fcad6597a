export { DirectoryStore, DIRECTORY_LAYOUT_VERSION } from './directory-store.js';
export type { DirectoryStoreOptions } from './directory-store.js';
