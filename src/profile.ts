/**
 * An optional per-node timing hook for the benchmark's profile (scripts/profile.ts): the forward
 * record and the relevance pass call {@link activeNodeProfiler} once per node, which returns null
 * (nothing else happens) unless a profiler is set. Internal: not part of the public API.
 *
 * The times are wall-clock times around each node's work; they are the nodes' own compute times
 * on synchronous backends (cpu, wasm) only: on webgl/webgpu they measure the dispatch.
 */

/** The two per-node phases of one explanation. */
export type NodePhase = 'forward' | 'relevance';

/** Receives the start and end of each node's work in each phase. */
export interface NodeProfiler {
  begin(phase: NodePhase, nodeId: string): void;
  end(phase: NodePhase, nodeId: string): void;
}

let profiler: NodeProfiler | null = null;

/** Sets (or clears, with null) the node profiler; returns the previous one. */
export function setNodeProfiler(next: NodeProfiler | null): NodeProfiler | null {
  const previous = profiler;
  profiler = next;
  return previous;
}

/** The node profiler in use, or null (the default). */
export function activeNodeProfiler(): NodeProfiler | null {
  return profiler;
}
