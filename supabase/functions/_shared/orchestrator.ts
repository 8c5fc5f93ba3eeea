// One handoff, end to end: begin (RPC) → run the gates (parallel, critical-path scheduling, with
// timeouts, retries and the shared breakers) → record each result (RPC) → complete (RPC). The
// verdict is always the database's; this module only moves data between the gates and the RPCs.
import type postgres from 'postgres';
import { isApprovalGate } from '../../../shared/approvals.ts';
import { runGates, type GateOutcome, type GateSpec, type RunEvent } from '../../../shared/dag-runner.ts';
import { subAgentIdempotencyKey } from '../../../shared/idempotency.ts';
import type { HandoffRequest, HandoffResponse } from '../../../shared/handoff-schema.ts';
import type { ModeRead } from '../../../shared/mode-cache.ts';
import type { BreakerStore } from '../../../shared/resilience.ts';
import { callerRpc, rpc, type BeginAnswer, type Caller, type CompleteAnswer } from '../../../shared/rpc.ts';
import { executeGate, type ExecutorConfig } from './executors.ts';
import { log } from './http.ts';

export interface OrchestratorOptions {
  sql: postgres.Sql;
  request: HandoffRequest;
  requestId: string;
  /** The HTTP request's id, carried by every log line of this handoff. */
  logId?: string;
  executors: ExecutorConfig;
  concurrency?: number;
  onEvent?: (e: RunEvent) => void;
  /** Called once the attempt exists, before any gate runs (async mode answers 202 here). */
  onBegun?: (begin: BeginAnswer) => void;
  /**
   * Whose handoff this is: begin, every recorded result and complete run under this identity
   * (role and JWT claims set per transaction, as PostgREST does), so SQL decides who may request
   * it and records who did. Null: the connection's own identity (tools and tests).
   */
  caller?: Caller | null;
  /** The function's cached view of the SD type's mode, reported as mode_read (the verdict is SQL's). */
  readMode?: (sdType: string) => Promise<ModeRead>;
}

/**
 * The breakers live in Postgres (fn_breaker_*), shared by every function instance. One read of
 * the plan's breakers, in begin's round trip, answers the common case — a closed breaker with
 * no recent failures — without a round trip per attempt: its first acquire is allowed and a
 * success changes nothing. Anything else (open, half-open, a failure, a retry) goes to the RPCs,
 * which decide under a row lock.
 */
export function dbBreakerStore(sql: postgres.Sql, troubledCodes: readonly string[], leaseMs: number, attemptId: string | null = null, dryRun = false): BreakerStore {
  const troubled = new Set(troubledCodes);
  const acquired = new Set<string>();
  return {
    acquire: async (code) => {
      if (!troubled.has(code) && !acquired.has(code)) {
        acquired.add(code);
        return { allowed: true, state: 'closed' };
      }
      return await rpc.breakerAcquire(sql, code, leaseMs);
    },
    record: async (code, success, error) => {
      if (success && !troubled.has(code)) return;
      // A dry run's failures are the caller's experiment, not evidence against a shared agent.
      if (dryRun && !success) return;
      troubled.add(code);
      await rpc.breakerRecord(sql, code, success, error ?? null, attemptId);
    },
  };
}

/** What SQL stores for one outcome: the gate-result contract plus how it was obtained. */
function storedResult(o: GateOutcome): postgres.JSONValue {
  return {
    passed: o.passed,
    score: o.score,
    maxScore: o.maxScore,
    issues: o.issues,
    warnings: o.warnings,
    fixes: o.fixes,
    skipped: o.skipped,
    skip_reason: o.skipReason,
    error: o.error ? `${o.error.kind}: ${o.error.message}` : null,
  };
}

/** Results already recorded for this attempt (a retry after a crash reuses them, not re-runs). */
async function recordedOutcomes(sql: postgres.Sql, attemptId: string): Promise<Map<string, GateOutcome>> {
  const rows = await sql<{ code: string; passed: boolean; score: string; max_score: string; issues: string[]; warnings: string[]; fixes: string[]; skipped: boolean; skip_reason: string | null; attempts: number; duration_ms: number | null; created_at: Date }[]>`
    select sub_agent_code as code, passed, score, max_score, issues, warnings, fixes, skipped, skip_reason, attempts, duration_ms, created_at
    from public.sub_agent_execution_results where attempt_id = ${attemptId}::uuid`;
  return new Map(rows.map((r) => [r.code, {
    code: r.code, passed: r.passed, score: Number(r.score), maxScore: Number(r.max_score), issues: r.issues, warnings: r.warnings,
    fixes: r.fixes, durationMs: r.duration_ms ?? 0, attempts: r.attempts, skipped: r.skipped, skipReason: r.skip_reason, reused: true,
    startedAt: r.created_at.toISOString(), finishedAt: r.created_at.toISOString(),
  }]));
}

function respond(req: HandoffRequest, begin: BeginAnswer, done: CompleteAnswer, gates: GateOutcome[], timing: { wallMs: number; criticalPathMs: number }, dryRun: boolean): HandoffResponse {
  return {
    ...done,
    verdict: done.verdict,
    sd_id: begin.sd_id,
    sd_key: begin.sd_id,
    handoff_type: req.handoff_type,
    phase_before: done.from_phase ?? begin.from_phase,
    phase_after: dryRun ? begin.from_phase : done.to_phase ?? begin.from_phase,
    score: Number(done.score ?? 0),
    threshold: Number(done.threshold ?? begin.threshold),
    validation_mode: done.validation_mode ?? begin.validation_mode,
    dry_run: dryRun,
    // A replay: the request id had already finished (begin), or a concurrent twin finished it first (complete).
    replay: (begin.replay && begin.result !== null) || done.replay === true,
    replay_reason: begin.replay && begin.result !== null ? begin.replay_reason : done.replay === true ? 'concurrent' : null,
    request_id: begin.request_id,
    attempt_id: begin.attempt_id,
    audit_id: dryRun ? null : done.audit_id,
    issues: done.issues ?? [],
    gates,
    wall_ms: Math.round(timing.wallMs),
    critical_path_ms: Math.round(timing.criticalPathMs),
  } as HandoffResponse;
}

// ------------------------------------------------------------------------------------------
// The two log lines the runbook's troubleshooting greps for (seed runbook: "Gate X result
// normalized with Y fix(es)", grep "SD-Type Threshold"), as structured JSON fields.
type LogFields = Record<string, unknown>;

/** One line per gate result that needed normalisation, with the fixes applied. */
function logNormalized(fields: LogFields, g: GateOutcome): void {
  if (g.fixes.length === 0) return;
  log('warn', 'gate result normalized', {
    ...fields, gate: g.code, fix_count: g.fixes.length, fixes: g.fixes,
    summary: `Gate ${g.code} result normalized with ${g.fixes.length} fix(es)`,
  });
}

/** One line per verdict: the SD type's threshold, the score against it, and whether it blocked. */
function logThreshold(fields: LogFields, sdType: string, done: CompleteAnswer, dryRun: boolean): void {
  const score = done.score === null ? null : Number(done.score);
  const threshold = done.threshold === null ? null : Number(done.threshold);
  const below = score !== null && threshold !== null && score < threshold;
  // SQL names the threshold as the failed "gate" when it is what rejected the handoff.
  const blocked = done.verdict === 'rejected' && done.failed_gate === 'SD_TYPE_THRESHOLD';
  log(blocked ? 'warn' : 'info', 'SD-Type Threshold', {
    ...fields, sd_type: sdType, score, threshold, below_threshold: below, blocked,
    would_reject: done.would_reject ?? false, validation_mode: done.validation_mode ?? null,
    verdict: done.verdict, failed_gate: done.failed_gate, dry_run: dryRun,
    summary: `SD-Type Threshold (${sdType}): score ${score ?? '-'} vs ${threshold ?? '-'}${blocked ? ': blocked' : ''}`,
  });
}

/**
 * Attempts this function instance is running now. A retry of the same request id that arrives
 * while its first request is still running here (begin answers the open attempt) waits for that
 * run instead of running every gate a second time, and answers its outcome as a replay: under a
 * burst of identical requests the gates run once. After a crash the map is empty, so a retry
 * resumes the attempt as before; another instance's retry resumes it too (recording is idempotent).
 */
const running = new Map<string, Promise<HandoffResponse>>();

export async function runHandoff(o: OrchestratorOptions): Promise<HandoffResponse> {
  const started = performance.now();
  const { sql, request } = o;
  const calls = callerRpc(sql, o.caller ?? null);
  const begin = await calls.beginWithBreakers({
    sdId: request.sd_id,
    handoffType: request.handoff_type,
    sessionId: request.session_id,
    requestId: o.requestId,
    expectedVersion: request.expected_version,
    dryRun: request.dry_run,
  });
  // The same request id already finished: its first answer, without running anything again.
  if (begin.result) {
    const modeRead = o.readMode?.(begin.sd_type).catch(() => undefined);
    // the gates as the first answer showed them: their recorded results, in the plan's order
    const recorded = await recordedOutcomes(sql, begin.attempt_id);
    const planned = begin.gates.map((g) => recorded.get(g.code)).filter((g): g is GateOutcome => g !== undefined);
    const gates = planned.length === recorded.size ? planned : [...recorded.values()].sort((a, b) => a.code.localeCompare(b.code));
    const replayed = respond(request, begin, begin.result, gates, { wallMs: performance.now() - started, criticalPathMs: 0 }, false);
    replayed.mode_read = await modeRead;
    return replayed;
  }
  const inFlight = running.get(begin.attempt_id);
  if (inFlight) {
    o.onBegun?.(begin);
    const first = await inFlight;
    return { ...first, replay: true, replay_reason: 'in_progress', wall_ms: Math.round(performance.now() - started) };
  }
  const run = runBegun(o, begin, started);
  running.set(begin.attempt_id, run);
  try {
    return await run;
  } finally {
    running.delete(begin.attempt_id);
  }
}

async function runBegun(o: OrchestratorOptions, begin: BeginAnswer & { troubled_breakers: string[] }, started: number): Promise<HandoffResponse> {
  const { sql, request } = o;
  // people: record and complete under the caller's identity, as begin was
  const calls = callerRpc(sql, o.caller ?? null);
  const modeRead = o.readMode?.(begin.sd_type).catch(() => undefined);
  o.onBegun?.(begin);
  const logFields = { request_id: o.logId ?? o.requestId, attempt_id: begin.attempt_id, sd_id: begin.sd_id, handoff_type: begin.handoff_type };
  log('info', 'handoff begun', { ...logFields, gates: begin.gates.length, replay: begin.replay, validation_mode: begin.validation_mode });
  const onEvent = (e: RunEvent) => {
    if (e.type === 'gate_finished' || e.type === 'gate_skipped') {
      const g = e.outcome;
      log(g.error ? 'warn' : 'info', 'gate finished', { ...logFields, gate: g.code, passed: g.passed, score: g.score, skipped: g.skipped, skip_reason: g.skipReason, attempts: g.attempts, duration_ms: Math.round(g.durationMs), error: g.error?.message });
      logNormalized(logFields, g);
    } else if (e.type === 'gate_retrying') {
      log('warn', 'gate retrying', { ...logFields, gate: e.code, attempt: e.attempt, delay_ms: e.delayMs, kind: e.kind, error: e.message });
    }
    o.onEvent?.(e);
  };

  const now = Date.now();
  // approvals: people decide after the automated gates (SQL counts their decisions); nothing to run
  const automated = begin.gates.filter((g) => !isApprovalGate(g));
  const codes = automated.map((g) => g.code);
  const breaker = dbBreakerStore(sql, begin.troubled_breakers, request.timeout_ms ?? 60_000, begin.attempt_id, request.dry_run);
  const [existing, keyList] = await Promise.all([
    // Only a resumed attempt (the same request after a crash) can have results already.
    begin.replay ? recordedOutcomes(sql, begin.attempt_id) : new Map<string, GateOutcome>(),
    Promise.all(codes.map((code) => request.skip_idempotency ? null : subAgentIdempotencyKey({
      sdId: begin.sd_id, code, sessionId: request.session_id, phase: begin.from_phase, now,
    }))),
  ]);
  const keys = new Map(codes.map((code, i) => [code, keyList[i] ?? null]));
  const begunAt = performance.now();
  const run = await runGates<Record<string, unknown>>(automated as GateSpec[], {
    context: begin.context,
    concurrency: o.concurrency,
    timeoutOverrideMs: request.timeout_ms,
    breaker,
    onEvent,
    execute: (gate, ctx) => executeGate(gate, ctx, { ...o.executors, sql, attemptId: begin.attempt_id, sdId: begin.sd_id, handoffType: begin.handoff_type }),
    lookupExisting: (gate) => Promise.resolve(existing.get(gate.code) ?? null),
    recordResult: async (gate, outcome) => {
      if (outcome.reused) return;
      const answer = await calls.recordGateResult({
        attemptId: begin.attempt_id,
        code: gate.code,
        result: storedResult(outcome),
        idempotencyKey: keys.get(gate.code) ?? null,
        durationMs: outcome.durationMs,
        attempts: outcome.attempts,
      });
      if (answer.idempotent_hit) outcome.reused = true;
    },
  });

  const gatesDoneAt = performance.now();
  let done: CompleteAnswer;
  if (request.dry_run) {
    // The verdict comes from the same SQL as a real completion, rolled back inside
    // fn_finish_dry_run, which also deletes the attempt: no claim, no open attempt, no audit row.
    // (on the functions' own connection: fn_finish_dry_run is the service role's; the attempt was
    // begun, and its gates recorded, under the caller's identity)
    const answer = await rpc.finishDryRun(sql, begin.attempt_id, request.expected_version);
    if (answer.error) throw Object.assign(new Error(answer.error.message), { code: answer.error.sqlstate });
    done = answer;
  } else {
    done = await calls.complete(begin.attempt_id, request.expected_version);
  }
  const end = performance.now();
  const response = respond(request, begin, done, run.outcomes, { wallMs: end - started, criticalPathMs: run.criticalPathMs }, request.dry_run);
  response.mode_read = await modeRead;
  response.timings_ms = {
    begin: Math.round(begunAt - started),
    gates: Math.round(gatesDoneAt - begunAt),
    complete: Math.round(end - gatesDoneAt),
  };
  logThreshold(logFields, begin.sd_type, done, request.dry_run);
  return response;
}
