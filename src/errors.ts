/**
 * One error hierarchy for tfjs-lrp. Every error has a stable `name`, carries the context it is
 * about (argument, layer, class), and its message says what to do next.
 */

/** Base class of every error thrown by tfjs-lrp. */
export class LrpError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LrpError';
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** An argument of a public call is invalid (wrong type, shape, range or value). */
export class LrpArgumentError extends LrpError {
  /** The argument that is wrong, e.g. `'input'`, `'classIdx'`, `'options.alpha'`. */
  readonly argument: string;
  constructor(argument: string, message: string) {
    super(`Argument '${argument}': ${message}`);
    this.name = 'LrpArgumentError';
    this.argument = argument;
  }
}

/** A rule or composite name is unknown, or a rule's parameters are invalid. */
export class LrpRuleError extends LrpError {
  /** The rule or composite concerned. */
  readonly rule: string;
  constructor(rule: string, message: string) {
    super(message);
    this.name = 'LrpRuleError';
    this.rule = rule;
  }
}

/** A layer of the model cannot be explained as configured. */
export class LrpLayerError extends LrpError {
  /** The layer's name in the model (nested models as `outer/inner`). */
  readonly layerName: string;
  /** The layer's Keras class name, e.g. `Conv3D`. */
  readonly className: string;
  constructor(layerName: string, className: string, message: string) {
    super(message);
    this.name = 'LrpLayerError';
    this.layerName = layerName;
    this.className = className;
  }
}

/** The model itself cannot be explained (not a LayersModel, not built, unsupported topology). */
export class LrpModelError extends LrpError {
  constructor(message: string) {
    super(message);
    this.name = 'LrpModelError';
  }
}

/** A model could not be loaded from disk (bad JSON, unsafe or missing weight file, short shard). */
export class LrpLoadError extends LrpError {
  /** The file concerned. */
  readonly file: string;
  constructor(file: string, message: string) {
    super(message);
    this.name = 'LrpLoadError';
    this.file = file;
  }
}

/** A browser API that a helper needs is not available here (e.g. ImageData in Node.js). */
export class LrpEnvironmentError extends LrpError {
  /** The missing API, e.g. `'ImageData'`. */
  readonly api: string;
  constructor(api: string, message: string) {
    super(message);
    this.name = 'LrpEnvironmentError';
    this.api = api;
  }
}

/**
 * The compute backend reported an error (a GPU validation error, a lost device), so values read
 * from it cannot be trusted. Raised on the next read of any tensor after the error happened.
 */
export class LrpBackendError extends LrpError {
  /** The tf backend concerned, e.g. `'webgpu'`. */
  readonly backend: string;
  /** The backend's own message (e.g. Dawn's validation message), unchanged. */
  readonly gpuMessage: string;
  /**
   * @param backend the tf backend name
   * @param gpuMessage the backend's own message
   * @param advice what to do next (a sentence)
   * @param summary what happened, before the backend's message (default: the backend reported an
   *   error, so values computed on it may be wrong)
   */
  constructor(backend: string, gpuMessage: string, advice: string, summary = `The '${backend}' backend reported an error, so values computed on it may be wrong`) {
    super(`${summary}: ${gpuMessage.trim()}\n${advice}`);
    this.name = 'LrpBackendError';
    this.backend = backend;
    this.gpuMessage = gpuMessage;
  }
}
