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
  | 'IO' // the operating system refused a file operation (disk full, read-only, permissions, not a folder)
  | 'BUSY' // another process holds the run or sweep cell (training it now)
  | 'INTERNAL'; // a bug: please report

export interface ErrorDetails {
  /** What the user should do about it. */
  hint?: string;
  /**
   * The same advice for a call made from code (a notebook, a script), in the API's words rather
   * than CLI flags (`train({ out })`, not `--out`). The notebook kernel shows it instead of `hint`.
   */
  codeHint?: string;
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
  readonly codeHint?: string;
  readonly file?: string;
  readonly line?: number;

  constructor(code: ErrorCode, message: string, details: ErrorDetails = {}) {
    const where = details.file ? `${details.file}${details.line != null ? `:${details.line}` : ''}: ` : '';
    super(`${where}${message}${details.hint ? `\n  hint: ${details.hint}` : ''}`, { cause: details.cause });
    this.name = 'GroundlabError';
    this.code = code;
    this.hint = details.hint;
    if (details.codeHint) this.codeHint = details.codeHint;
    this.file = details.file;
    this.line = details.line;
  }
}

export function isGroundlabError(e: unknown): e is GroundlabError {
  return e instanceof GroundlabError || (e instanceof Error && e.name === 'GroundlabError');
}

/** What each operating-system error means, and what to do about it. */
const SYSTEM_ERRORS: Record<string, { what: string; hint: string }> = {
  ENOSPC: { what: 'no space left on the device', hint: 'free disk space, or give a folder on another disk' },
  EDQUOT: { what: 'the disk quota is exceeded', hint: 'free space in your quota, or give a folder on another disk' },
  EROFS: { what: 'the filesystem is read-only', hint: 'give a folder on a writable filesystem (copy the run there to work on it)' },
  EACCES: { what: 'permission denied', hint: "check the folder's owner and permissions, or give another folder" },
  EPERM: { what: 'operation not permitted', hint: "check the folder's owner and permissions, or give another folder" },
  ENOTDIR: { what: 'a part of the path is a file, not a folder', hint: 'give a path whose folders are folders (not files)' },
  EEXIST: { what: 'the path already exists', hint: 'give a path that does not exist yet, or remove what is there' },
  EISDIR: { what: 'the path is a folder, but a file was expected', hint: 'give the path of a file' },
  ENOENT: { what: 'no such file or folder', hint: 'check the path' },
  ENAMETOOLONG: { what: 'the path is too long', hint: 'give a shorter path' },
  ELOOP: { what: 'too many symbolic links in the path', hint: 'check the symbolic links of the path' },
  EMFILE: { what: 'too many open files', hint: 'raise the limit (ulimit -n) or run fewer jobs at once' },
  ENFILE: { what: 'too many open files on this system', hint: 'run fewer jobs at once' },
  EIO: { what: 'an input/output error of the device', hint: 'the disk may be failing or disconnected; check it (dmesg)' },
  EBUSY: { what: 'the file or device is busy', hint: 'close what uses it and retry' },
  EXDEV: { what: 'a rename across filesystems', hint: 'keep the run on one filesystem' },
};

/** A Node.js system error (fs, child_process): it has a string `code` such as "ENOSPC". */
export function isSystemError(e: unknown): e is NodeJS.ErrnoException & { code: string } {
  return (
    e instanceof Error && typeof (e as NodeJS.ErrnoException).code === 'string' && /^E[A-Z0-9]+$/.test((e as NodeJS.ErrnoException).code!)
  );
}

/**
 * A GroundlabError (code IO; NOT_FOUND for ENOENT) for an operating-system error: it names the path,
 * what the system said and what to do. `doing` says what groundlab was doing ("write", "create the
 * folder"); `file` defaults to the error's own path. A GroundlabError is returned unchanged, except
 * that an IO error is re-said with `doing` and `file` when they are given.
 */
export function fromSystemError(e: unknown, opts: { file?: string; doing?: string; hint?: string } = {}): GroundlabError {
  if (isGroundlabError(e)) {
    // An OS error already named at a lower level, re-said in the caller's terms (what it was doing).
    if (opts.doing && (e.code === 'IO' || e.code === 'NOT_FOUND') && isSystemError(e.cause)) return fromSystemError(e.cause, opts);
    return e;
  }
  if (!isSystemError(e)) {
    return new GroundlabError('INTERNAL', `${opts.doing ? `cannot ${opts.doing}: ` : ''}${e instanceof Error ? e.message : String(e)}`, {
      file: opts.file,
      cause: e,
    });
  }
  const known = SYSTEM_ERRORS[e.code];
  const file = opts.file ?? e.path;
  const dest = (e as { dest?: string }).dest;
  const other = dest && dest !== file ? ` (to ${dest})` : '';
  const what = known?.what ?? e.message;
  return new GroundlabError(
    e.code === 'ENOENT' ? 'NOT_FOUND' : 'IO',
    `cannot ${opts.doing ?? e.syscall ?? 'access'}${other}: ${what} (${e.code})`,
    {
      file,
      cause: e,
      hint: opts.hint ? `${known ? known.hint + '; ' : ''}${opts.hint}` : known?.hint,
    },
  );
}
