// Runs a handoff's gates as a dependency graph: every gate starts as soon as its own
// dependencies have finished (critical-path scheduling, not level-by-level waves), bounded by a
// concurrency limit. It knows nothing of Postgres or HTTP: execution, recording, reuse and the
// breaker are passed in by the caller.
import pLimit from 'p-limit';
import { normalizeGateResult } from './gate-result.ts';
import {
  type BackoffPolicy,
  type BreakerStore,
  CircuitOpenError,
  classifyFailure,
  DEFAULT_BACKOFF,
  type FailureKind,
  InvalidGateResultError,
  runWithRetry,
} from './resilience.ts';

export type GateKind = 'sql' | 'http' | 'builtin';

/** One entry of `gates` as returned by fn_begin_handoff. */
export interface GateSpec {
  code: string;
  kind: GateKind;
  target?: string | null;
  depends_on?: readonly string[] | null;
  timeout_ms?: number | null;
  max_retries?: number | null;
  weight?: number;
  required?: boolean;
  skip?: boolean;
  skip_reason?: string | null;
}

export const DEPENDENCY_FAILED = 'DEPENDENCY_FAILED';
export const CIRCUIT_OPEN = 'CIRCUIT_OPEN';
export const NON_APPLICABLE = 'NON_APPLICABLE';

export interface GateOutcome {
  code: string;
  passed: boolean;
  score: number;
  maxScore: number;
  issues: string[];
  warnings: string[];
  details?: unknown;
  fixes: string[];
  durationMs: number;
  /** Calls of execute actually made; 0 for skipped, reused and circuit-open gates. */
  attempts: number;
  skipped: boolean;
  skipReason: string | null;
  /** true when lookupExisting returned an already-recorded result (idempotent hit). */
  reused: boolean;
  error?: { kind: FailureKind; message: string };
  startedAt: string;
  finishedAt: string;
}

export interface ExecuteContext<C> {
  signal: AbortSignal;
  attempt: number;
  /** This gate's own deep copy of the handoff context, fresh for every attempt. */
  context: C;
  timeoutMs: number;
}

export type RunEvent =
  | { type: 'gate_started'; code: string; at: string }
  | { type: 'gate_retrying'; code: string; attempt: number; delayMs: number; kind: FailureKind; message: string }
  | { type: 'gate_finished'; code: string; outcome: GateOutcome }
  | { type: 'gate_skipped'; code: string; outcome: GateOutcome };

export interface RunOptions<C> {
  execute: (gate: GateSpec, ctx: ExecuteContext<C>) => Promise<unknown>;
  context: C;
  concurrency?: number;
  breaker?: BreakerStore;
  defaultTimeoutMs?: number;
  /** Request-level cap: no attempt runs longer than this, whatever the gate's own timeout. */
  timeoutOverrideMs?: number;
  retry?: BackoffPolicy;
  /** Strict gate-result normalisation (refuse results that needed fixes). */
  strict?: boolean;
  onEvent?: (e: RunEvent) => void;
  /** Makes each outcome durable as soon as it exists; a rejection aborts the run and rejects it. */
  recordResult?: (gate: GateSpec, outcome: GateOutcome) => Promise<unknown>;
  /** Returns an already-recorded outcome (e.g. after a crash) to reuse instead of running. */
  lookupExisting?: (gate: GateSpec) => Promise<GateOutcome | null>;
  /** Aborting it stops the run: in-flight attempts are aborted and runGates rejects with its reason. */
  signal?: AbortSignal;
  now?: () => number;
  random?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface RunResult {
  outcomes: GateOutcome[];
  wallMs: number;
  criticalPathMs: number;
}

export class GateGraphError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GateGraphError';
  }
}

export const DEFAULT_CONCURRENCY = 5;
export const DEFAULT_GATE_TIMEOUT_MS = 60_000;

/** Codes in a valid execution order; throws GateGraphError on duplicates, unknown deps or a cycle. */
export function topologicalOrder(gates: readonly GateSpec[]): string[] {
  const codes = new Set<string>();
  for (const g of gates) {
    if (codes.has(g.code)) throw new GateGraphError(`Duplicate gate code ${g.code}`);
    codes.add(g.code);
  }
  const indegree = new Map<string, number>();
  const dependents = new Map<string, string[]>();
  for (const g of gates) {
    const deps = g.depends_on ?? [];
    for (const d of deps) {
      if (!codes.has(d)) throw new GateGraphError(`Gate ${g.code} depends on unknown gate ${d}`);
      dependents.set(d, [...(dependents.get(d) ?? []), g.code]);
    }
    indegree.set(g.code, new Set(deps).size);
  }
  const ready = gates.filter((g) => indegree.get(g.code) === 0).map((g) => g.code);
  const order: string[] = [];
  while (ready.length > 0) {
    const code = ready.shift()!;
    order.push(code);
    for (const dep of new Set(dependents.get(code) ?? [])) {
      const left = indegree.get(dep)! - 1;
      indegree.set(dep, left);
      if (left === 0) ready.push(dep);
    }
  }
  if (order.length !== gates.length) {
    const stuck = gates.map((g) => g.code).filter((c) => !order.includes(c));
    throw new GateGraphError(`Gate dependency cycle among ${stuck.join(', ')}`);
  }
  return order;
}

/** A dependency that failed while required (or was itself cut off) cuts off its dependents. */
function blocksDependents(gate: GateSpec, o: GateOutcome): boolean {
  if (o.skipReason === DEPENDENCY_FAILED) return true;
  if (o.skipped && o.skipReason !== CIRCUIT_OPEN) return false; // non-applicable counts as satisfied
  return !o.passed && gate.required !== false;
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export async function runGates<C>(gates: readonly GateSpec[], options: RunOptions<C>): Promise<RunResult> {
  const order = topologicalOrder(gates);
  const now = options.now ?? Date.now;
  const iso = (ms: number) => new Date(ms).toISOString();
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError('concurrency must be an integer ≥ 1');
  let base: C;
  try {
    base = structuredClone(options.context); // seed pattern 4: the caller's object is never shared
  } catch (err) {
    throw new TypeError(`Handoff context cannot be deep-copied: ${message(err)}`);
  }
  const runStart = now();
  const limit = pLimit(concurrency);
  const byCode = new Map(gates.map((g) => [g.code, g]));
  const outcomes = new Map<string, GateOutcome>();
  const dependents = new Map<string, GateSpec[]>();
  for (const g of gates) for (const d of new Set(g.depends_on ?? [])) dependents.set(d, [...(dependents.get(d) ?? []), g]);
  const waiting = new Map(gates.map((g) => [g.code, new Set(g.depends_on ?? []).size]));
  const abort = new AbortController();
  let fatal: { error: unknown } | undefined;
  const fail = (error: unknown) => {
    fatal ??= { error };
    abort.abort(error);
  };
  const onOuterAbort = () => fail(options.signal?.reason ?? new Error('Handoff run aborted'));
  if (options.signal?.aborted) onOuterAbort();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  const records: Promise<unknown>[] = [];

  const emit = (e: RunEvent) => {
    try {
      options.onEvent?.(e);
    } catch {
      // a broken stream consumer must not change the verdict
    }
  };

  const skippedOutcome = (code: string, reason: string, issue?: string): GateOutcome => {
    const at = iso(now());
    return {
      code, passed: false, score: 0, maxScore: 100, issues: issue ? [issue] : [], warnings: [], fixes: [],
      durationMs: 0, attempts: 0, skipped: true, skipReason: reason, reused: false, startedAt: at, finishedAt: at,
    };
  };

  const runOne = async (gate: GateSpec): Promise<GateOutcome> => {
    const started = now();
    emit({ type: 'gate_started', code: gate.code, at: iso(started) });
    const existing = await options.lookupExisting?.(gate);
    if (existing) return { ...existing, code: gate.code, reused: true };
    const ownTimeoutMs = gate.timeout_ms ?? options.defaultTimeoutMs ?? DEFAULT_GATE_TIMEOUT_MS;
    const timeoutMs = Math.min(ownTimeoutMs, options.timeoutOverrideMs ?? Infinity);
    // A timeout the caller caused (timeout_ms below the agent's own) says nothing about the agent:
    // it is not counted against the breaker every caller shares (issue #15).
    const callerShortened = timeoutMs < ownTimeoutMs;
    const breaker = options.breaker;
    const res = await runWithRetry(
      async (signal, attempt) => {
        const raw = await options.execute(gate, { signal, attempt, context: structuredClone(base), timeoutMs });
        const n = normalizeGateResult(raw, gate.code, { strict: options.strict });
        if (!n.ok) throw new InvalidGateResultError(n.error);
        return n;
      },
      {
        label: gate.code,
        timeoutMs,
        maxRetries: Math.max(0, gate.max_retries ?? 0),
        backoff: options.retry ?? DEFAULT_BACKOFF,
        random: options.random,
        sleep: options.sleep,
        signal: abort.signal,
        beforeAttempt: breaker && (async () => {
          if (!(await breaker.acquire(gate.code)).allowed) throw new CircuitOpenError(gate.code);
        }),
        // A valid result counts as success even when the gate did not pass: the agent is healthy.
        afterAttempt: breaker && (async (_attempt, err) => {
          if (abort.signal.aborted) return;
          if (err !== undefined && callerShortened && classifyFailure(err) === 'timeout') return;
          await breaker.record(gate.code, err === undefined, err === undefined ? undefined : message(err)).catch(() => {
            // breaker bookkeeping is best effort; losing one sample must not lose the gate's result
          });
        }),
        onRetry: ({ attempt, delayMs, kind, error }) =>
          emit({ type: 'gate_retrying', code: gate.code, attempt, delayMs, kind, message: message(error) }),
      },
    );
    const finished = now();
    const timing = { durationMs: finished - started, startedAt: iso(started), finishedAt: iso(finished), attempts: res.attempts };
    if (res.ok) {
      const r = res.value.result;
      return {
        code: gate.code, passed: r.passed, score: r.score, maxScore: r.maxScore, issues: r.issues, warnings: r.warnings,
        ...(r.details === undefined ? {} : { details: r.details }),
        fixes: res.value.fixes, skipped: false, skipReason: null, reused: false, ...timing,
      };
    }
    const error = { kind: res.kind, message: message(res.error) };
    const circuitOpen = res.kind === 'circuit_open' && res.attempts === 0;
    return {
      code: gate.code, passed: false, score: 0, maxScore: 100, issues: [error.message], warnings: [], fixes: [],
      skipped: circuitOpen, skipReason: circuitOpen ? CIRCUIT_OPEN : null, reused: false, error, ...timing,
    };
  };

  return await new Promise<RunResult>((resolve, reject) => {
    let pending = gates.length;

    const finish = () => {
      options.signal?.removeEventListener('abort', onOuterAbort);
      Promise.allSettled(records).then(() => {
        if (fatal) throw fatal.error;
        return summarise();
      }).then(resolve, reject);
    };

    // Critical path: the longest dependency chain measured in actual durations.
    const summarise = (): RunResult => {
      const cp = new Map<string, number>();
      for (const code of order) {
        const deps = byCode.get(code)!.depends_on ?? [];
        cp.set(code, outcomes.get(code)!.durationMs + Math.max(0, ...deps.map((d) => cp.get(d)!)));
      }
      return {
        outcomes: gates.map((g) => outcomes.get(g.code)!),
        wallMs: now() - runStart,
        criticalPathMs: Math.max(0, ...cp.values()),
      };
    };

    // `ran`: the gate went through runOne (so gate_started was emitted), even if the breaker refused it.
    const settle = (gate: GateSpec, outcome: GateOutcome | undefined, ran = false) => {
      if (outcome) {
        outcomes.set(gate.code, outcome);
        emit({ type: ran ? 'gate_finished' : 'gate_skipped', code: gate.code, outcome });
        if (options.recordResult && !outcome.reused && !fatal) {
          records.push(options.recordResult(gate, outcome).catch(fail));
        }
      }
      for (const dep of dependents.get(gate.code) ?? []) {
        const left = waiting.get(dep.code)! - 1;
        waiting.set(dep.code, left);
        if (left === 0) schedule(dep);
      }
      if (--pending === 0) finish();
    };

    const schedule = (gate: GateSpec) => {
      if (fatal) return settle(gate, undefined);
      if (gate.skip) return settle(gate, skippedOutcome(gate.code, gate.skip_reason || NON_APPLICABLE));
      const failedDep = (gate.depends_on ?? []).find((d) => blocksDependents(byCode.get(d)!, outcomes.get(d)!));
      if (failedDep) {
        return settle(gate, skippedOutcome(gate.code, DEPENDENCY_FAILED, `Skipped: dependency ${failedDep} failed`));
      }
      limit(() => (fatal ? undefined : runOne(gate))).then(
        (outcome) => settle(gate, outcome, true),
        (err) => {
          fail(err); // lookupExisting threw: the run cannot know what is already recorded
          settle(gate, undefined);
        },
      );
    };

    if (gates.length === 0) return finish();
    // Roots are fixed before scheduling: a synchronously skipped root releases its dependents
    // while this loop runs, and they must not be scheduled a second time.
    const roots = gates.filter((g) => waiting.get(g.code) === 0);
    for (const g of roots) schedule(g);
  });
}
