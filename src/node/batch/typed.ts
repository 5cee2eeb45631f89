/** Typed-array checks that work across realms (worker messages, vm contexts), unlike instanceof. */

/** Whether `x` is a Float32Array (from any realm). */
export function isFloat32Array(x: unknown): x is Float32Array {
  return Object.prototype.toString.call(x) === '[object Float32Array]';
}

/** Whether `x` is a Float64Array (from any realm). */
export function isFloat64Array(x: unknown): x is Float64Array {
  return Object.prototype.toString.call(x) === '[object Float64Array]';
}
