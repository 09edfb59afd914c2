/**
 * The catalogue of dspex errors. Every error that can cross the wire is a {@link DspexError} with a
 * stable `code`, the HTTP-like `status` carried in `Nats-Service-Error-Code`, and an explicit
 * `retryable` flag that retry policies read (never the message text).
 */

/** Stable error codes and the status each one maps to on the wire. */
export const ErrorCode = {
  BadRequest: 'bad_request',
  PayloadTooLarge: 'payload_too_large',
  NotFound: 'not_found',
  DeadlineExceeded: 'deadline_exceeded',
  RevisionConflict: 'revision_conflict',
  ValidationFailed: 'validation_failed',
  Overloaded: 'overloaded',
  Internal: 'internal',
  LmError: 'lm_error',
  Unavailable: 'unavailable',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Status of each code on the wire (`Nats-Service-Error-Code`). */
export const errorStatus: Record<ErrorCode, number> = {
  bad_request: 400,
  payload_too_large: 400,
  not_found: 404,
  deadline_exceeded: 408,
  revision_conflict: 409,
  validation_failed: 422,
  overloaded: 429,
  internal: 500,
  lm_error: 502,
  unavailable: 503,
};

const defaultRetryable: Record<ErrorCode, boolean> = {
  bad_request: false,
  payload_too_large: false,
  not_found: false,
  deadline_exceeded: true,
  revision_conflict: false,
  validation_failed: false,
  overloaded: true,
  internal: false,
  lm_error: false,
  unavailable: true,
};

/** The error body as it crosses the wire: `{error: WireError}`. */
export interface WireError {
  code: string;
  message: string;
  retryable: boolean;
  details?: Record<string, unknown>;
}

export interface DspexErrorOptions {
  /** @default the code's usual retryability */
  retryable?: boolean;
  details?: Record<string, unknown>;
  cause?: unknown;
}

/** Base class of every dspex error. */
export class DspexError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: DspexErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'DspexError';
    this.code = code;
    this.retryable = options.retryable ?? defaultRetryable[code];
    this.details = options.details;
  }

  /** The HTTP-like status of this error on the wire. */
  get status(): number {
    return errorStatus[this.code];
  }

  toWire(): WireError {
    const wire: WireError = { code: this.code, message: this.message, retryable: this.retryable };
    if (this.details !== undefined) wire.details = this.details;
    return wire;
  }

  /** Rebuilds an error received from the wire; unknown codes become `internal`. */
  static fromWire(wire: WireError, status?: number): DspexError {
    const code = isErrorCode(wire.code) ? wire.code : codeForStatus(status);
    return new DspexError(code, wire.message, { retryable: wire.retryable, details: wire.details });
  }
}

/** Inputs or outputs that do not match a signature; `field` is the dotted path of the culprit. */
export class ValidationError extends DspexError {
  readonly field: string;
  constructor(field: string, message: string, options: Omit<DspexErrorOptions, 'retryable'> = {}) {
    super(ErrorCode.ValidationFailed, `${field}: ${message}`, {
      ...options,
      details: { field, ...options.details },
    });
    this.name = 'ValidationError';
    this.field = field;
  }
}

/**
 * A signature string that cannot be parsed; `column` is 1-based. `refusal` names the deliberate
 * refusal (docs/signatures.md) when the text is refused on purpose rather than malformed.
 */
export class SignatureParseError extends DspexError {
  readonly column: number;
  readonly expected: string;
  readonly source: string;
  readonly refusal: string | undefined;
  constructor(source: string, column: number, expected: string, message?: string, refusal?: string) {
    super(ErrorCode.BadRequest, message ?? `signature column ${column}: expected ${expected}`, {
      details: { field: 'signature', column, expected, ...(refusal !== undefined && { refusal }) },
    });
    this.name = 'SignatureParseError';
    this.column = column;
    this.expected = expected;
    this.source = source;
    this.refusal = refusal;
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && value in errorStatus;
}

function codeForStatus(status: number | undefined): ErrorCode {
  for (const [code, s] of Object.entries(errorStatus)) if (s === status) return code as ErrorCode;
  return ErrorCode.Internal;
}

export function isDspexError(error: unknown): error is DspexError {
  return error instanceof DspexError;
}
export function isValidationError(error: unknown): error is ValidationError {
  return error instanceof ValidationError;
}
export function isSignatureParseError(error: unknown): error is SignatureParseError {
  return error instanceof SignatureParseError;
}
/**
 * Any thrown value as a {@link DspexError}: a DspexError is returned as is, anything else becomes
 * `internal` (not retryable) with the original as `cause`, and its own text as message unless
 * `message` is given (the service never echoes an unexpected error's text to a caller).
 */
export function toDspexError(error: unknown, message?: string): DspexError {
  if (error instanceof DspexError) return error;
  const text = message ?? (error instanceof Error ? error.message : String(error));
  return new DspexError(ErrorCode.Internal, text, { cause: error });
}
/** True when a retry of the same call may succeed. */
export function isRetryable(error: unknown): boolean {
  return error instanceof DspexError && error.retryable;
}

/** Characters of a hostile value an error message may echo. */
const PRINTABLE_PREVIEW = 32;

/**
 * A short, printable preview of a value a request sent, for error messages: control characters
 * replaced by `?`, at most 32 characters (then `…` and the total length). Messages never echo more.
 */
export function preview(value: unknown, max = PRINTABLE_PREVIEW): string {
  const text = typeof value === 'string' ? value : String(value);
  // eslint-disable-next-line no-control-regex -- replacing control characters is the point
  const clean = text.slice(0, max).replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, '?');
  return text.length > max ? `${clean}… (${text.length} characters)` : clean;
}
