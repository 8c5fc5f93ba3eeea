// Typed calls of the SQL API. Runtime-agnostic: it takes a postgres.js client, which runs in
// Deno (the functions) and Node (tests, tools) alike. Every write goes through an RPC.
import type postgres from 'postgres';
import type { ApprovalDecisionResponse, OverrideResponse } from './approvals.ts';
import type { GateSpec } from './dag-runner.ts';
import { mapDbError } from './errors.ts';
import { sleep } from './resilience.ts';

type Sql = postgres.Sql | postgres.TransactionSql;
type Json = postgres.JSONValue;

export interface BeginAnswer {
  attempt_id: string;
  request_id: string;
  status: 'in_progress' | 'awaiting_approval' | 'completed' | 'rejected' | 'failed' | 'abandoned' | 'expired';
  replay: boolean;
  /** Why a request id answered from an earlier attempt (fn_begin_handoff): null for a new attempt. */
  replay_reason: 'accepted' | 'unchanged_inputs' | 'in_progress' | null;
  result: CompleteAnswer | null;
  sd_id: string;
  sd_uuid: string;
  sd_type: string;
  session_id: string;
  handoff_type: string;
  from_phase: string;
  to_phase: string;
  transition_version: number;
  threshold: number;
  validation_mode: string;
  context: Record<string, unknown>;
  gates: GateSpec[];
}

export interface CompleteAnswer {
  verdict: 'accepted' | 'rejected' | 'failed' | 'awaiting_approval' | 'expired';
  attempt_id: string;
  audit_id: string | null;
  sd_id: string;
  handoff_type: string;
  from_phase: string;
  to_phase: string;
  score: number | null;
  threshold: number | null;
  failed_gate: string | null;
  issues: string[];
  warnings?: string[];
  would_reject?: boolean;
  validation_mode?: string;
  transition_version?: number | null;
  replay?: boolean;
  [key: string]: unknown;
}

/**
 * Whose request a transaction runs: the way PostgREST runs one, the role and the JWT claims are
 * set for the transaction (`set_config(…, true)`), so auth.uid() / auth.role(), the permission
 * rules in SQL and the RLS policies see the caller, not the functions' own connection. `via` is
 * the way in recorded on every row the transaction writes (stagegate.via).
 */
export interface Caller {
  role: 'authenticated' | 'service_role';
  claims: Record<string, unknown>;
  via: 'http' | 'sql' | 'trigger';
}

/** The caller of a verified JWT's claims, or null when the role may not run handoffs. */
export function callerFromClaims(claims: Record<string, unknown>, via: Caller['via']): Caller | null {
  const role = claims.role;
  if (role !== 'authenticated' && role !== 'service_role') return null;
  return { role, claims, via };
}

/** Makes the rest of the transaction `tx` run as the caller. */
export async function setCaller(tx: postgres.TransactionSql, caller: Caller): Promise<void> {
  await tx`select set_config('role', ${caller.role}, true), set_config('request.jwt.claims', ${JSON.stringify(caller.claims)}, true),
                  set_config('stagegate.via', ${caller.via}, true)`;
}

/** Runs `work` in one transaction under the caller's identity (nothing else shares it). */
export async function asCaller<T>(sql: postgres.Sql, caller: Caller, work: (tx: postgres.TransactionSql) => Promise<T>): Promise<T> {
  return await sql.begin(async (tx) => {
    await setCaller(tx, caller);
    return await work(tx);
  }) as T;
}

export interface RecordAnswer { result_id: string; idempotent_hit: boolean; result: Record<string, unknown> }

async function one<T>(query: () => Promise<{ r: T }[]>): Promise<T> {
  const [row] = await query();
  return row!.r;
}

/**
 * For the idempotent RPCs only (begin by request id, record per attempt and gate, complete of a
 * terminal attempt returns its stored answer): after a database restart the pool may hand out a
 * dead connection once; one retry on a fresh connection turns that into a normal answer instead
 * of a 503. Anything but a connection failure is thrown at once.
 */
async function idempotent<T>(query: () => Promise<{ r: T }[]>): Promise<T> {
  try {
    return await one(query);
  } catch (err) {
    if (mapDbError(err).code !== 'DB_UNAVAILABLE') throw err;
    await sleep(50);
    return await one(query);
  }
}

/**
 * The handoff RPCs under a caller's identity (each call its own transaction), or on the
 * connection's own identity when caller is null (tests, tools, the bench's baselines).
 */
export function callerRpc(sql: postgres.Sql, caller: Caller | null) {
  // begin, record and complete are idempotent: after a database restart one retry on a fresh
  // connection (a new transaction) turns a dead pooled connection into a normal answer
  const on = async <T>(call: (s: Sql) => Promise<T>): Promise<T> => {
    if (!caller) return await call(sql);
    try {
      return await asCaller(sql, caller, call);
    } catch (err) {
      if (mapDbError(err).code !== 'DB_UNAVAILABLE') throw err;
      await sleep(50);
      return await asCaller(sql, caller, call);
    }
  };
  return {
    beginWithBreakers: (a: Parameters<typeof rpc.beginWithBreakers>[1]) => on((s) => rpc.beginWithBreakers(s, a)),
    recordGateResult: (a: Parameters<typeof rpc.recordGateResult>[1]) => on((s) => rpc.recordGateResult(s, a)),
    complete: (attemptId: string, expectedVersion?: number | null) => on((s) => rpc.complete(s, attemptId, expectedVersion)),
  };
}

export const rpc = {
  /**
   * begin, plus in the same round trip the plan's sub-agents whose breaker is not plainly closed
   * (public.fn_troubled_breakers decides): the orchestrator asks the breaker RPCs only for those.
   */
  // The sql gates are evaluated in supabase/functions/_shared/executors.ts, which needs the
  // query object itself to cancel it when the attempt times out.
  beginWithBreakers: (sql: Sql, a: { sdId: string; handoffType: string; sessionId: string; requestId: string; expectedVersion?: number | null; dryRun?: boolean }) =>
    idempotent<BeginAnswer & { troubled_breakers: string[] }>(() => sql`
      select x.r || jsonb_build_object('troubled_breakers', to_jsonb(public.fn_troubled_breakers(
               array(select g ->> 'code' from jsonb_array_elements(x.r -> 'gates') g)))) as r
      from (select public.fn_begin_handoff(${a.sdId}, ${a.handoffType}, ${a.sessionId}, ${a.requestId}, ${a.expectedVersion ?? null}::int, ${a.dryRun ?? false}::boolean) as r) x`),

  recordGateResult: (sql: Sql, a: { attemptId: string; code: string; result: Json; idempotencyKey: string | null; durationMs: number; attempts: number }) =>
    idempotent<RecordAnswer>(() => sql`select public.fn_record_gate_result(${a.attemptId}::uuid, ${a.code}, ${sql.json(a.result)}, ${a.idempotencyKey}, ${Math.round(a.durationMs)}::int, ${a.attempts}::int) as r`),

  complete: (sql: Sql, attemptId: string, expectedVersion?: number | null) =>
    idempotent<CompleteAnswer>(() => sql`select public.fn_complete_handoff(${attemptId}::uuid, ${expectedVersion ?? null}::int) as r`),

  /** An approver's decision on an attempt awaiting approval (run it under the approver's identity). */
  decideApproval: (sql: Sql, attemptId: string, decision: 'approve' | 'reject', comment: string | null) =>
    one<ApprovalDecisionResponse>(() => sql`select public.fn_decide_approval(${attemptId}::uuid, ${decision}, ${comment}) as r`),

  /** A member with the override permission accepts a rejected attempt (run it under their identity). */
  overrideHandoff: (sql: Sql, attemptId: string, reason: string) =>
    one<OverrideResponse>(() => sql`select public.fn_override_handoff(${attemptId}::uuid, ${reason}) as r`),

  /**
   * The verdict of a dry-run attempt, judged by fn_complete_handoff's SQL in a rolled-back
   * subtransaction; the attempt and its results are deleted. A refusal comes back as `error`.
   */
  finishDryRun: (sql: Sql, attemptId: string, expectedVersion?: number | null) =>
    one<CompleteAnswer & { error?: { sqlstate: string; message: string } }>(() => sql`select public.fn_finish_dry_run(${attemptId}::uuid, ${expectedVersion ?? null}::int) as r`),

  breakerAcquire: (sql: Sql, code: string, leaseMs: number) =>
    one<{ allowed: boolean; state: 'closed' | 'open' | 'half_open' }>(() => sql`select public.fn_breaker_acquire(${code}, ${leaseMs}::int) as r`),

  /** attemptId: failures are counted once per attempt, so retries within one handoff cannot open a breaker. */
  breakerRecord: (sql: Sql, code: string, success: boolean, error: string | null, attemptId: string | null = null) =>
    one<{ state: string }>(() => sql`select public.fn_breaker_record(${code}, ${success}, ${error}, ${attemptId}::uuid) as r`),

  idempotencyBegin: (sql: Sql, scope: string, key: string, fingerprint: string) =>
    one<{ outcome: 'new' | 'replay' | 'in_flight' | 'mismatch'; response_status: number | null; response_body: unknown }>(
      () => sql`select public.fn_idempotency_begin(${scope}, ${key}, ${fingerprint}) as r`),

  idempotencyComplete: (sql: Sql, scope: string, key: string, fingerprint: string, status: number, body: Json) =>
    sql`select public.fn_idempotency_complete(${scope}, ${key}, ${fingerprint}, ${status}::int, ${sql.json(body)})`.then(() => undefined),

  idempotencyAbandon: (sql: Sql, scope: string, key: string) =>
    sql`select public.fn_idempotency_abandon(${scope}, ${key})`.then(() => undefined),
};
