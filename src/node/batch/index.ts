/**
 * Batch explanation in Node (exported from `tfjs-lrp/node`): explain whole data sets as an async
 * iterator of explained batches, aggregate relevance per class with exactly mergeable sums, and
 * read/write NumPy .npy arrays. The `tfjs-lrp` command line is built on these.
 */
export { explainDataset } from './explainDataset.js';
export type { ExplainDatasetOptions, ExplainedBatch, ItemFailure, BatchConservation } from './explainDataset.js';
export type { DatasetItem, DatasetElement, DatasetSource, NestedNumbers, ItemKind } from './items.js';
export { RelevanceAggregator } from './aggregator.js';
export type { ClassAggregate, AggregatorJSON, AggregateItem } from './aggregator.js';
export type { ExactSumsJSON } from './exact.js';
export { encodeNpy, encodeNpyHeader, decodeNpy, readNpy, NpyFile } from './npy.js';
export type { NpyDtype, NpyHeader } from './npy.js';
export { selectBackend, BACKEND_CHOICES } from './backend.js';
export type { BackendChoice, BackendInfo } from './backend.js';
export { parseShard } from './shard.js';
export type { Shard } from './shard.js';
export { listOutputs, formatOutputs, checkOutputChoice, resolveOutput } from './modelOutputs.js';
export type { ModelOutputInfo } from './modelOutputs.js';
export { LrpLockError } from './lock.js';
export type { LockInfo } from './lock.js';
export { LrpWriteError } from './atomic.js';
