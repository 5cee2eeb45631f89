/**
 * Batch explanation in Node (exported from `tfjs-lrp/node`): explain whole data sets as an async
 * iterator of explained batches, aggregate relevance per class with exactly mergeable sums, and
 * read/write NumPy .npy arrays. The `tfjs-lrp` command line is built on these.
 */
export { explainDataset } from './explainDataset';
export type { ExplainDatasetOptions, ExplainedBatch, ItemFailure, BatchConservation } from './explainDataset';
export type { DatasetItem, DatasetElement, DatasetSource, NestedNumbers } from './items';
export { RelevanceAggregator } from './aggregator';
export type { ClassAggregate, AggregatorJSON, AggregateItem } from './aggregator';
export type { ExactSumsJSON } from './exact';
export { encodeNpy, encodeNpyHeader, decodeNpy, readNpy, NpyFile } from './npy';
export type { NpyDtype, NpyHeader } from './npy';
export { selectBackend, BACKEND_CHOICES } from './backend';
export type { BackendChoice, BackendInfo } from './backend';
export { parseShard } from './shard';
export type { Shard } from './shard';
