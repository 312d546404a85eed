// The store watcher belongs to the wall (it declares a dependency); re-exported here for existing imports.
export { watchStore, type WatchStoreOptions } from '../wall/store-watch.js';
