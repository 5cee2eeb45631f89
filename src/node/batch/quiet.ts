/** Silencing console warnings that repeat what the main thread already printed. */

/**
 * Runs `fn` with `console.warn` silenced, restoring it afterwards (also when `fn` fails).
 * Workers load the model the main thread has already loaded: tfjs-layers' warnings about its
 * configuration (e.g. "The shape of the input tensor ... does not match the expectation of
 * layer ...", from a stale `batch_input_shape` in a converted Sequential model) were printed
 * there once and would otherwise be printed again by every worker.
 */
export async function withoutWarnings<T>(fn: () => Promise<T>): Promise<T> {
  const warn = console.warn;
  console.warn = (): void => undefined;
  try {
    return await fn();
  } finally {
    console.warn = warn;
  }
}
