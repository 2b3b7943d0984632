/**
 * Every failure smlm-rt reports on purpose is an `SmlmError` with a stable `code`, so that callers can branch on
 * `err.code` instead of parsing messages. Codes never change meaning between releases.
 */
export type SmlmErrorCode =
  | 'E_FILE_NOT_FOUND' // an input path does not exist or cannot be read
  | 'E_NOT_TIFF' // the file is not a TIFF at all
  | 'E_TIFF_CORRUPT' // a TIFF that is truncated or whose structure is broken
  | 'E_UNSUPPORTED_SAMPLE_FORMAT' // e.g. signed, 64-bit, RGB or compressed in a way we cannot decode
  | 'E_FRAME_SIZE_MISMATCH' // frames of one stack differ in width or height
  | 'E_EMPTY_STACK' // zero frames
  | 'E_NON_FINITE_PIXELS' // NaN or +-Inf in float data
  | 'E_FRAME_SIZE_UNSUPPORTED' // the model cannot take frames of this size
  | 'E_BAD_OPTIONS' // an option has the wrong type or an out-of-range value
  | 'E_MODEL_NOT_FOUND' // model name unknown or ONNX path missing
  | 'E_MODEL_INVALID' // ONNX that does not parse, lacks smlm-rt metadata, or has unsupported operators
  | 'E_OUTPUT_EXISTS' // refusing to overwrite a file the user owns
  | 'E_BACKEND_UNAVAILABLE' // the requested backend cannot run here (no GPU, addon not built, TensorRT missing)
  | 'E_GPU' // a CUDA / TensorRT runtime failure, with the driver's message
  | 'E_GPU_OUT_OF_MEMORY' // device memory exhausted even at the smallest batch
  | 'E_TRAINING_FAILED' // the training script failed (its last output is in the message)
  | 'E_ABORTED' // the caller's AbortSignal fired
  | 'E_CLOSED'; // the Reconstructor was closed

export class SmlmError extends Error {
  readonly code: SmlmErrorCode;
  /** Structured context (path, frame index, operator name, ...) for programs; the message is for people. */
  readonly details: Record<string, unknown>;

  constructor(code: SmlmErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SmlmError';
    this.code = code;
    this.details = details;
  }
}

export function isSmlmError(value: unknown, code?: SmlmErrorCode): value is SmlmError {
  return value instanceof SmlmError && (code === undefined || value.code === code);
}
