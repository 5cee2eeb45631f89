/** Jest setup: hide tfjs' one-time "install the node backend" banner (it cannot install here). */
const warn = console.warn.bind(console);
console.warn = (...args: unknown[]): void => {
  if (typeof args[0] === 'string' && args[0].includes('looks like you are running TensorFlow.js in Node.js')) return;
  warn(...args);
};

// The one-shot functions (explain, explainWithConservation, explainLayers, conceptRelevance,
// describe) cache plans and weight-derived tensors between calls (src/explainCache.ts). The
// suite's leak checks compare tf.memory().numTensors around single calls, so the cache is off
// here; test/explain-cache.test.ts turns it on and checks it (with explainCacheInfo().tensors).
(require('../src/explainCache') as typeof import('../src/explainCache')).setExplainCacheSize(0);
