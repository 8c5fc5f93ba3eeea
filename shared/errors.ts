// Stable error codes of the public API: one table, read by the edge functions, the OpenAPI
// document and the SQL-error mapper, so a code means the same status everywhere.

export const ERROR_CODES = {
  INVALID_INPUT: { status: 400, retryable: false },
  UNAUTHORIZED: { status: 401, retryable: false },
  FORBIDDEN: { status: 403, retryable: false },
  // People: who may request a handoff is decided in SQL (stagegate_private.fn_authorize_handoff).
  NOT_A_MEMBER: { status: 403, retryable: false },
  ROLE_NOT_ALLOWED: { status: 403, retryable: false },
  // Approval gates and overrides (supabase/migrations/*_approval_gates.sql, *_overrides.sql).
  AWAITING_APPROVAL: { status: 409, retryable: false },
  SELF_APPROVAL: { status: 403, retryable: false },
  NOT_AN_APPROVER: { status: 403, retryable: false },
  APPROVAL_CLOSED: { status: 409, retryable: false },
  OVERRIDE_NOT_ALLOWED: { status: 403, retryable: false },
  NOT_OVERRIDABLE: { status: 409, retryable: false },
  SD_NOT_FOUND: { status: 404, retryable: false },
  ATTEMPT_NOT_FOUND: { status: 404, retryable: false },
  UNKNOWN_HANDOFF_TYPE: { status: 400, retryable: false },
  UNKNOWN_GATE: { status: 400, retryable: false },
  WRONG_PHASE: { status: 409, retryable: false },
  CLAIMED_BY_OTHER_SESSION: { status: 409, retryable: false },
  SD_BUSY: { status: 409, retryable: true },
  VERSION_CONFLICT: { status: 409, retryable: false },
  ALREADY_TRANSITIONED: { status: 409, retryable: false },
  IDEMPOTENCY_IN_FLIGHT: { status: 409, retryable: true },
  IDEMPOTENCY_MISMATCH: { status: 422, retryable: false },
  INVALID_GATE_RESULT: { status: 422, retryable: false },
  METHOD_NOT_ALLOWED: { status: 405, retryable: false },
  PAYLOAD_TOO_LARGE: { status: 413, retryable: false },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retryable: false },
  INTERNAL: { status: 500, retryable: false },
  DB_UNAVAILABLE: { status: 503, retryable: true },
  CONFIG_INVALID: { status: 503, retryable: false },
  NOT_FOUND: { status: 404, retryable: false },
  // Validation modes and the ops webhook.
  PROMOTION_BLOCKED: { status: 409, retryable: false },
  WEBHOOK_SIGNATURE_INVALID: { status: 401, retryable: false },
  WEBHOOK_TIMESTAMP_INVALID: { status: 401, retryable: false },
  WEBHOOK_REPLAYED: { status: 409, retryable: false },
  WEBHOOK_NOT_CONFIGURED: { status: 503, retryable: false },
  // Directives API.
  DIRECTIVE_EXISTS: { status: 409, retryable: false },
} as const satisfies Record<string, { status: number; retryable: boolean }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export const ERROR_CODE_LIST = Object.keys(ERROR_CODES) as ErrorCode[];

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

export function httpStatus(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}

export function isRetryableError(code: ErrorCode): boolean {
  return ERROR_CODES[code].retryable;
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details: unknown };
}

export function errorBody(code: ErrorCode, message: string, details?: unknown): ErrorBody {
  return { error: { code, message, details: details ?? null } };
}

/** Thrown inside shared/ and the functions when a request must end with a stable code. */
export class StagegateError extends Error {
  readonly code: ErrorCode;
  readonly details: unknown;
  constructor(code: ErrorCode, message: string, details?: unknown) {
    super(message);
    this.name = 'StagegateError';
    this.code = code;
    this.details = details ?? null;
  }
  get status(): number {
    return httpStatus(this.code);
  }
  toBody(): ErrorBody {
    return errorBody(this.code, this.message, this.details);
  }
}

/**
 * Custom SQLSTATEs of the SQL core (class SG). The message prefix wins when both are present;
 * this table is the fallback for a raise that carries only the SQLSTATE.
 */
export const SQLSTATE_CODES: Readonly<Record<string, ErrorCode>> = {
  // Kept in step with the table at the top of supabase/schemas/01_workflow.sql.
  SG001: 'INVALID_INPUT',
  SG002: 'SD_NOT_FOUND',
  SG003: 'UNKNOWN_HANDOFF_TYPE',
  SG004: 'WRONG_PHASE',
  SG005: 'CLAIMED_BY_OTHER_SESSION',
  SG006: 'SD_BUSY',
  SG007: 'VERSION_CONFLICT',
  SG008: 'ALREADY_TRANSITIONED',
  SG009: 'ATTEMPT_NOT_FOUND',
  SG010: 'INVALID_GATE_RESULT',
  SG011: 'UNKNOWN_GATE',
  SG012: 'FORBIDDEN', // DIRECT_UPDATE_REFUSED: state changed outside a handoff RPC
  SG013: 'INVALID_INPUT', // UNKNOWN_DEPENDENCY when writing the sub-agent registry
  SG014: 'INVALID_INPUT', // DEPENDENCY_CYCLE when writing the sub-agent registry
  SG015: 'PROMOTION_BLOCKED',
  SG020: 'NOT_A_MEMBER',
  SG021: 'ROLE_NOT_ALLOWED',
  SG040: 'AWAITING_APPROVAL',
  SG041: 'SELF_APPROVAL',
  SG042: 'NOT_AN_APPROVER',
  SG043: 'APPROVAL_CLOSED',
  SG044: 'OVERRIDE_NOT_ALLOWED',
  SG045: 'NOT_OVERRIDABLE',
  SG030: 'DIRECTIVE_EXISTS',
  // Postgres' own codes that have a stable meaning for a caller.
  '55P03': 'SD_BUSY', // lock_not_available (NOWAIT / lock_timeout)
  '40001': 'SD_BUSY', // serialization_failure: safe to retry
  '40P01': 'SD_BUSY', // deadlock_detected: safe to retry
  // class 22 (22P02 a malformed uuid, 22021 a NUL in text, 22003 a number past int4, …): below
  '23514': 'INVALID_INPUT', // check_violation on caller-supplied data
  '23502': 'INVALID_INPUT', // not_null_violation on caller-supplied data (a null argument an RPC does not check itself)
  '42501': 'FORBIDDEN', // insufficient_privilege
  '53300': 'DB_UNAVAILABLE', // too_many_connections
  '57P01': 'DB_UNAVAILABLE', // admin_shutdown
  '57P02': 'DB_UNAVAILABLE', // crash_shutdown
  '57P03': 'DB_UNAVAILABLE', // cannot_connect_now
};

const CONNECTION_ERRNOS = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH',
  'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT',
]);

export interface MappedError {
  code: ErrorCode;
  status: number;
  message: string;
  details: unknown;
}

function mapped(code: ErrorCode, message: string, details?: unknown): MappedError {
  return { code, status: httpStatus(code), message, details: details ?? null };
}

function parseDetail(detail: unknown): unknown {
  if (typeof detail !== 'string' || detail === '') return undefined;
  try {
    return JSON.parse(detail);
  } catch {
    return detail;
  }
}

const GENERIC: Partial<Record<ErrorCode, string>> = {
  DB_UNAVAILABLE: 'The database is unavailable; retry later',
  SD_BUSY: 'The strategic directive is being transitioned by another request; retry later',
  INVALID_INPUT: 'The request contains an invalid value',
  FORBIDDEN: 'Not allowed',
  INTERNAL: 'Internal error',
};

/**
 * Maps an error from postgres.js, supabase-js (PostgREST) or fetch to a stable code.
 * Order: our message prefix (`CODE: text`), then SQLSTATE, then connection failures; anything
 * else is INTERNAL with a generic message, because a raw database message may leak internals.
 */
export function mapDbError(err: unknown): MappedError {
  if (err instanceof StagegateError) return mapped(err.code, err.message, err.details);
  if (typeof err !== 'object' || err === null) return mapped('INTERNAL', GENERIC.INTERNAL!);
  const e = err as Record<string, unknown>;
  const message = typeof e.message === 'string' ? e.message : '';
  const sqlstate = typeof e.code === 'string' ? e.code : '';
  const details = parseDetail(e.detail ?? e.details);

  const prefix = /^([A-Z][A-Z_]+):\s*([\s\S]*)$/.exec(message);
  if (prefix && isErrorCode(prefix[1])) {
    return mapped(prefix[1], prefix[2]?.trim() || prefix[1], details);
  }

  const bySqlstate = SQLSTATE_CODES[sqlstate];
  if (bySqlstate) {
    // Our own SG states carry an authored message (minus its own prefix, e.g. DEPENDENCY_CYCLE:);
    // Postgres' own ones may name internals, so be generic.
    const own = message.replace(/^[A-Z][A-Z_]+:\s*/, '');
    const text = sqlstate.startsWith('SG') && own ? own : GENERIC[bySqlstate] ?? message;
    return mapped(bySqlstate, text, sqlstate.startsWith('SG') ? details : undefined);
  }
  // Class 22 (data exception) is a value the caller sent that PostgreSQL could not take: a NUL,
  // a number past its type, a malformed date or interval. Bad input, never a 500.
  if (/^22[0-9A-Z]{3}$/.test(sqlstate)) return mapped('INVALID_INPUT', GENERIC.INVALID_INPUT!);
  if (sqlstate.startsWith('08') || CONNECTION_ERRNOS.has(sqlstate) || isConnectionFailure(e)) {
    return mapped('DB_UNAVAILABLE', GENERIC.DB_UNAVAILABLE!);
  }
  return mapped('INTERNAL', GENERIC.INTERNAL!);
}

function isConnectionFailure(e: Record<string, unknown>): boolean {
  const errno = typeof e.errno === 'string' ? e.errno : '';
  if (CONNECTION_ERRNOS.has(errno)) return true;
  const cause = e.cause;
  if (typeof cause === 'object' && cause !== null) {
    const c = cause as Record<string, unknown>;
    if (typeof c.code === 'string' && CONNECTION_ERRNOS.has(c.code)) return true;
  }
  const message = typeof e.message === 'string' ? e.message : '';
  // supabase-js surfaces a dead PostgREST / network as a fetch TypeError message.
  if (typeof e.name === 'string' && /^(ConnectionReset|ConnectionRefused|ConnectionAborted|BrokenPipe|NotConnected|TimedOut)$/.test(e.name)) return true;
  // Deno's socket errors read "Connection reset by peer (os error 104)", "Broken pipe (os error 32)".
  return /fetch failed|failed to fetch|error sending request|connection refused|reset by peer|broken pipe|os error (32|104|110|111)|ECONNREFUSED|ECONNRESET/i
    .test(message);
}
