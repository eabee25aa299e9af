/**
 * The one error type of groundlab. Every failure a user can cause (a bad argument, a missing or
 * corrupt file, a config that does not fit a checkpoint) is reported as a GroundlabError with a
 * stable `code`, a message that says what is wrong, and `hint` that says what to do.
 */
export type ErrorCode =
  | 'BAD_ARGUMENT' // a CLI flag or API argument is invalid
  | 'BAD_CONFIG' // a config object or config.json is invalid
  | 'NOT_FOUND' // a file, run, checkpoint or hook point does not exist
  | 'BAD_FILE' // a file exists but cannot be read (encoding, garbage, truncated)
  | 'PARSE' // a text format (CHAT, JSON, spec) is malformed at a line
  | 'CORRUPT_CHECKPOINT' // a checkpoint is truncated or its tensors do not fit the config
  | 'CONFIG_MISMATCH' // a checkpoint or run does not fit the config it is loaded with
  | 'NUMERIC' // NaN or Inf appeared (loss, gradients)
  | 'ABORTED' // stopped by SIGINT or an AbortSignal
  | 'BACKEND' // the requested tfjs backend is unavailable
  | 'UNSUPPORTED' // a feature is not available for this architecture/preset/backend
  | 'EXTERNAL' // an external tool (sbatch, python) failed
  | 'INTERNAL'; // a bug: please report

export interface ErrorDetails {
  /** What the user should do about it. */
  hint?: string;
  /** The file the error is about, if any. */
  file?: string;
  /** 1-based line in `file`, if any. */
  line?: number;
  /** The underlying error, if any. */
  cause?: unknown;
}

export class GroundlabError extends Error {
  readonly code: ErrorCode;
  readonly hint?: string;
  readonly file?: string;
  readonly line?: number;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    const where = details.file ? `${details.file}${details.line != null ? `:${details.line}` : ''}: ` : '';
    super(`${where}${message}${details.hint ? `\n  hint: ${details.hint}` : ''}`, { cause: details.cause });
    this.name = 'GroundlabError';
    this.code = code;
    this.hint = details.hint;
    this.file = details.file;
    this.line = details.line;
  }
}

export function isGroundlabError(e: unknown): e is GroundlabError {
  return e instanceof GroundlabError || (e instanceof Error && e.name === 'GroundlabError');
}
