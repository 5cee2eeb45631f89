/**
 * `tfjs-lrp/node`: everything of `tfjs-lrp`, plus what only works in Node (reading models from
 * disk). Browser bundles import `tfjs-lrp`, which never reaches this file.
 */
export * from '../index';
export { loadModel } from './loadModel';
