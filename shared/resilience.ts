// Resilience policies for sub-agent calls: timeout, retry with full-jitter backoff, failure
// classification, and the circuit-breaker contract.
// Hand-written: cockatiel is not installed, and these ~150 lines must run unchanged in Deno and Node.

export type FailureKind =
  | 'timeout'
  | 'network'
  | 'http5xx'
  | 'http4xx'
  | 'invalid_result'
  | 'circuit_open'
  | 'other';

export class SubAgentTimeoutError extends Error {
  readonly code: string;
  readonly timeoutMs: number;
  constructor(code: string, ms: number) {
    super(`Sub-agent ${code} timed out after ${ms}ms`);
    this.name = 'SubAgentTimeoutError';
    this.code = code;
    this.timeoutMs = ms;
  }
}

/** Thrown by an http gate dispatcher for a non-2xx answer, so the status drives retry. */
export class HttpStatusError extends Error {
  readonly status: number;
  constructor(status: number, message?: string) {
    super(message ?? `HTTP ${status}`);
    this.name = 'HttpStatusError';
    this.status = status;
  }
}

export class InvalidGateResultError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidGateResultError';
  }
}

export class CircuitOpenError extends Error {
  readonly code: string;
  constructor(code: string) {
    super(`Circuit breaker for sub-agent ${code} is open`);
    this.name = 'CircuitOpenError';
    this.code = code;
  }
}

const NETWORK_ERRNOS = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH',
  'ENETUNREACH', 'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT',
]);
const NETWORK_MESSAGE = /fetch failed|failed to fetch|network|error sending request|connection (refused|reset|closed)|socket hang up/i;

function errnoOf(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

export function classifyFailure(err: unknown): FailureKind {
  if (err instanceof SubAgentTimeoutError) return 'timeout';
  if (err instanceof CircuitOpenError) return 'circuit_open';
  if (err instanceof InvalidGateResultError) return 'invalid_result';
  if (typeof err !== 'object' || err === null) return 'other';
  const name = (err as { name?: unknown }).name;
  if (name === 'TimeoutError') return 'timeout';
  const status = (err as { status?: unknown }).status ?? (err as { statusCode?: unknown }).statusCode;
  if (typeof status === 'number') {
    if (status >= 500 && status <= 599) return 'http5xx';
    if (status >= 400 && status <= 499) return 'http4xx';
  }
  const errno = errnoOf(err) ?? errnoOf((err as { cause?: unknown }).cause);
  if (errno === 'ETIMEDOUT') return 'timeout';
  if (errno && NETWORK_ERRNOS.has(errno)) return 'network';
  const message = (err as { message?: unknown }).message;
  if (err instanceof TypeError && typeof message === 'string' && NETWORK_MESSAGE.test(message)) {
    return 'network';
  }
  return 'other';
}

/** Only transient failures are retried; a 4xx or an invalid result would fail the same way again. */
export function isRetryable(kind: FailureKind): boolean {
  return kind === 'timeout' || kind === 'network' || kind === 'http5xx';
}

export interface BackoffPolicy {
  baseMs: number;
  capMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 200, capMs: 5_000 };

/** Full jitter (AWS architecture blog): uniform in [0, min(cap, base * 2^attempt)). */
export function retryDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.capMs, policy.baseMs * 2 ** Math.max(0, attempt));
  return Math.floor(random() * ceiling);
}

/**
 * Runs fn with its own AbortSignal that aborts after ms (or when parent aborts). Rejects with
 * SubAgentTimeoutError at the deadline even if fn ignores the signal, so a hung agent cannot
 * hold the handoff; the abort still cancels any fetch that did honour the signal.
 */
export function withTimeout<T>(
  fn: (signal: AbortSignal) => Promise<T>,
  ms: number,
  label: string,
  parent?: AbortSignal,
): Promise<T> {
  const controller = new AbortController();
  const timeoutError = new SubAgentTimeoutError(label, ms);
  return new Promise<T>((resolve, reject) => {
    const onParentAbort = () => {
      controller.abort(parent?.reason);
      finish(() => reject(parent?.reason ?? new Error('aborted')));
    };
    const timer = setTimeout(() => {
      controller.abort(timeoutError);
      finish(() => reject(timeoutError));
    }, ms);
    let done = false;
    const finish = (settle: () => void) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      parent?.removeEventListener('abort', onParentAbort);
      settle();
    };
    if (parent?.aborted) return onParentAbort();
    parent?.addEventListener('abort', onParentAbort, { once: true });
    let started: Promise<T>;
    try {
      started = Promise.resolve(fn(controller.signal));
    } catch (err) {
      return finish(() => reject(err));
    }
    started.then(
      (value) => finish(() => resolve(value)),
      (err) => finish(() => reject(err)),
    );
  });
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export interface RetryOptions {
  label: string;
  timeoutMs: number;
  maxRetries: number;
  backoff: BackoffPolicy;
  random?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  signal?: AbortSignal;
  /** Runs before every attempt; throwing (e.g. CircuitOpenError) ends the loop without an attempt. */
  beforeAttempt?: (attempt: number) => Promise<void>;
  /** Runs after every attempt with its outcome, e.g. to feed a circuit breaker. */
  afterAttempt?: (attempt: number, error?: unknown) => Promise<void> | void;
  onRetry?: (info: { attempt: number; delayMs: number; kind: FailureKind; error: unknown }) => void;
}

export type RetryOutcome<T> =
  | { ok: true; value: T; attempts: number }
  | { ok: false; error: unknown; kind: FailureKind; attempts: number };

/** attempts counts calls of fn actually made (0 when beforeAttempt refused the first one). */
export async function runWithRetry<T>(
  fn: (signal: AbortSignal, attempt: number) => Promise<T>,
  opts: RetryOptions,
): Promise<RetryOutcome<T>> {
  const wait = opts.sleep ?? sleep;
  let attempts = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      await opts.beforeAttempt?.(attempt);
    } catch (error) {
      return { ok: false, error, kind: classifyFailure(error), attempts };
    }
    attempts = attempt;
    try {
      const value = await withTimeout((signal) => fn(signal, attempt), opts.timeoutMs, opts.label, opts.signal);
      await opts.afterAttempt?.(attempt);
      return { ok: true, value, attempts };
    } catch (error) {
      const kind = classifyFailure(error);
      await opts.afterAttempt?.(attempt, error);
      const stop = !isRetryable(kind) || attempt > opts.maxRetries || opts.signal?.aborted;
      if (stop) return { ok: false, error, kind, attempts };
      const delayMs = retryDelay(attempt - 1, opts.backoff, opts.random);
      opts.onRetry?.({ attempt, delayMs, kind, error });
      try {
        await wait(delayMs, opts.signal);
      } catch {
        return { ok: false, error, kind, attempts };
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Circuit breaker. The state lives in Postgres so every function instance shares it; the runner
// only sees this interface. MemoryBreakerStore is the reference semantics the SQL must match.
// ---------------------------------------------------------------------------------------------

export type BreakerState = 'closed' | 'open' | 'half_open';

export interface BreakerStore {
  acquire(code: string): Promise<{ allowed: boolean; state: BreakerState }>;
  record(code: string, success: boolean, error?: string): Promise<void>;
}

export interface BreakerPolicy {
  failureThreshold: number;
  successThreshold: number;
  resetMs: number;
  /** How long a half-open probe holds its lease; a crashed probe's lease simply expires. */
  probeLeaseMs: number;
}

export const DEFAULT_BREAKER_POLICY: BreakerPolicy = {
  failureThreshold: 5, successThreshold: 2, resetMs: 60_000, probeLeaseMs: 60_000,
};

export interface BreakerTransition {
  code: string;
  from: BreakerState;
  to: BreakerState;
  at: number;
  reason: string;
}

interface BreakerRow {
  state: BreakerState;
  failures: number; // consecutive failures while closed
  successes: number; // consecutive successes while half-open
  openedAt: number;
  probeUntil: number | null; // half-open probe lease; null = no probe in flight
  lastError?: string;
}

/**
 * closed: count consecutive failures (a success resets the count); at failureThreshold → open.
 * open: refuse until resetMs has passed since opening, then the next acquire moves to half_open.
 * half_open: one probe at a time (a lease of probeLeaseMs, released by its result, so instances
 * sharing the store do not hammer a recovering agent); a failure → open again (timer restarts);
 * successThreshold consecutive successes → closed. reset() is the manual override.
 */
export class MemoryBreakerStore implements BreakerStore {
  readonly transitions: BreakerTransition[] = [];
  private readonly rows = new Map<string, BreakerRow>();
  private readonly policy: BreakerPolicy;
  private readonly now: () => number;

  constructor(policy: Partial<BreakerPolicy> = {}, now: () => number = Date.now) {
    this.policy = { ...DEFAULT_BREAKER_POLICY, ...policy };
    this.now = now;
  }

  state(code: string): BreakerState {
    return this.row(code).state;
  }

  acquire(code: string): Promise<{ allowed: boolean; state: BreakerState }> {
    const row = this.row(code);
    if (row.state === 'open' && this.now() - row.openedAt >= this.policy.resetMs) {
      this.move(code, row, 'half_open', 'reset timeout elapsed');
    }
    let allowed = row.state === 'closed';
    if (row.state === 'half_open' && (row.probeUntil === null || row.probeUntil <= this.now())) {
      row.probeUntil = this.now() + this.policy.probeLeaseMs;
      allowed = true;
    }
    return Promise.resolve({ allowed, state: row.state });
  }

  record(code: string, success: boolean, error?: string): Promise<void> {
    this.apply(code, success, error);
    return Promise.resolve();
  }

  private apply(code: string, success: boolean, error?: string): void {
    const row = this.row(code);
    if (!success) row.lastError = error;
    if (row.state === 'closed') {
      row.failures = success ? 0 : row.failures + 1;
      if (row.failures >= this.policy.failureThreshold) {
        this.move(code, row, 'open', `${row.failures} consecutive failures`);
      }
    } else if (row.state === 'half_open') {
      if (!success) return this.move(code, row, 'open', 'failure while half-open');
      row.successes += 1;
      row.probeUntil = null;
      if (row.successes >= this.policy.successThreshold) {
        this.move(code, row, 'closed', `${row.successes} successes while half-open`);
      }
    }
    // A result arriving while open came from a call admitted before the breaker opened: ignored.
  }

  reset(code: string): Promise<void> {
    const row = this.row(code);
    if (row.state !== 'closed') this.move(code, row, 'closed', 'manual reset');
    row.failures = 0;
    return Promise.resolve();
  }

  private row(code: string): BreakerRow {
    let row = this.rows.get(code);
    if (!row) {
      row = { state: 'closed', failures: 0, successes: 0, openedAt: 0, probeUntil: null };
      this.rows.set(code, row);
    }
    return row;
  }

  private move(code: string, row: BreakerRow, to: BreakerState, reason: string): void {
    this.transitions.push({ code, from: row.state, to, at: this.now(), reason });
    row.state = to;
    row.failures = 0;
    row.successes = 0;
    row.probeUntil = null;
    if (to === 'open') row.openedAt = this.now();
  }
}
