// POST /functions/v1/handoff — run a handoff end to end (see README "Handoffs over HTTP").
// GET  /functions/v1/handoff/attempts/<attempt_id> — status of an attempt (for Prefer: respond-async);
//      with Accept: text/event-stream, its approval events until it is settled.
// POST /functions/v1/handoff/attempts/<attempt_id>/approvals — an approver's decision.
// POST /functions/v1/handoff/attempts/<attempt_id>/override — accept a rejected handoff, with a reason.
// Thin by design: authenticate, parse, orchestrate, shape. Every rule is decided in SQL.
import type { z } from 'zod';
import { ApprovalDecisionRequestSchema, OverrideRequestSchema } from '../../../shared/approvals.ts';
import { errorBody, mapDbError } from '../../../shared/errors.ts';
import { parseHandoffRequest, type HandoffRequest, type HandoffResponse } from '../../../shared/handoff-schema.ts';
import { deriveRequestId, idempotencyScope, isFinalAnswer, requestFingerprint, sha256Hex } from '../../../shared/idempotency.ts';
import { asCaller, rpc, type Caller } from '../../../shared/rpc.ts';
import { withCors } from '../_shared/cors.ts';
import { db } from '../_shared/db.ts';
import { settings } from '../_shared/config.ts';
import { errorResponse, json, log, failure, readJson, requestId as newRequestId, authorisedCaller } from '../_shared/http.ts';
import { modeCache, recordUnknownInput } from '../_shared/modes.ts';
import { runHandoff } from '../_shared/orchestrator.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Claims = Record<string, unknown>;


/** The attempt's request id: the Idempotency-Key if given, else derived (same SD, type, session, user, hour → same id). */
async function attemptRequestId(req: HandoffRequest, scope: string, key: string | null, caller: Caller): Promise<string> {
  if (req.dry_run) return `dry:${crypto.randomUUID()}`;
  if (req.skip_idempotency) return `run:${crypto.randomUUID()}`;
  if (key) return `key:${await sha256Hex(`${scope}\n${key}`)}`;
  // people: a session belongs to a user, so two users naming the same session get two attempts
  const session = caller.role === 'authenticated' ? `${String(caller.claims.sub ?? '')}/${req.session_id}` : req.session_id;
  return await deriveRequestId({ sdId: req.sd_id, handoffType: req.handoff_type, sessionId: session, now: Date.now() });
}

/**
 * Who a request runs as. A handoff_requests row (the local consumer and the hosted pg_net
 * dispatch post it with the service-role key and X-Stagegate-Handoff-Request: <row id>) runs as
 * whoever inserted the row, recorded as the way in 'trigger'; anything else as the token's caller.
 */
async function callerOf(request: Request, caller: Caller): Promise<{ caller: Caller } | { response: Response }> {
  const rowId = request.headers.get('x-stagegate-handoff-request');
  if (rowId === null) return { caller };
  if (caller.role !== 'service_role') {
    return { response: errorResponse(403, 'FORBIDDEN', 'only the service role runs a handoff request on behalf of whoever inserted it') };
  }
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(rowId)) {
    return { response: errorResponse(400, 'INVALID_INPUT', 'X-Stagegate-Handoff-Request must be the uuid of a handoff_requests row') };
  }
  const [row] = await db()<{ actor_id: string | null; actor_role: string | null }[]>`
    select actor_id::text, actor_role from public.handoff_requests where id = ${rowId}::uuid`;
  if (!row) return { response: errorResponse(404, 'NOT_FOUND', `no handoff request ${rowId}`) };
  if (row.actor_role === 'authenticated') {
    return { caller: { role: 'authenticated', claims: { role: 'authenticated', sub: row.actor_id, aud: 'authenticated' }, via: 'trigger' } };
  }
  // the service role, or a privileged database role (postgres) that inserted the row
  return { caller: { role: 'service_role', claims: { role: 'service_role' }, via: 'trigger' } };
}

function sse(event: string, data: unknown): Uint8Array {
  return new TextEncoder().encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}

type AttemptRow = { id: string; status: string; result: Record<string, unknown> | null };

/**
 * An attempt awaiting approval, followed as events: each approval event (approval_requested,
 * approval_decided, approval_expired, override) as it is written, then `verdict` with the
 * attempt's answer once it is settled, or `still_waiting` after STAGEGATE_APPROVAL_STREAM_MS.
 * Read under the caller's identity (RLS), once a second.
 */
async function followApproval(attemptId: string, caller: Caller, emit: (event: string, data: unknown) => void, afterEventId = 0): Promise<void> {
  const until = Date.now() + settings().STAGEGATE_APPROVAL_STREAM_MS;
  let last = afterEventId;
  for (;;) {
    const { events, attempt } = await asCaller(db(), caller, async (tx) => ({
      events: await tx<{ id: string; event: string; payload: Record<string, unknown> }[]>`
        select id::text, event, payload from public.approval_events where attempt_id = ${attemptId}::uuid and id > ${last} order by id`,
      attempt: (await tx<AttemptRow[]>`select id, status, result from public.handoff_attempts where id = ${attemptId}::uuid`)[0],
    }));
    for (const e of events) {
      last = Number(e.id);
      emit(e.event, { event_id: last, ...e.payload });
    }
    if (!attempt) return emit('error', errorBody('ATTEMPT_NOT_FOUND', `no handoff attempt ${attemptId}`));
    if (attempt.status !== 'awaiting_approval') return emit('verdict', attempt.result);
    if (Date.now() > until) return emit('still_waiting', { attempt_id: attemptId, status: attempt.status, approvals: attempt.result?.approvals ?? null });
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function eventStream(work: (emit: (event: string, data: unknown) => void) => Promise<void>): Response {
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      const emit = (event: string, data: unknown) => controller.enqueue(sse(event, data));
      try {
        await work(emit);
      } catch (err) {
        const m = mapDbError(err);
        emit('error', errorBody(m.code, m.message, m.details));
      }
      controller.close();
    },
  });
  return new Response(stream, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
}

/** Where to follow and decide an attempt that awaits approval. */
function approvalLinks(request: Request, attemptId: string): { status_url: string; approvals_url: string } {
  const statusUrl = `${new URL(request.url).origin}/functions/v1/handoff/attempts/${attemptId}`;
  return { status_url: statusUrl, approvals_url: `${statusUrl}/approvals` };
}

/** The body of a decision or an override: a uuid in the path and a zod-checked JSON body. */
async function readAttemptCommand<T>(request: Request, rid: string, attemptId: string, schema: z.ZodType<T>, what: string): Promise<{ ok: true; value: T } | { ok: false; response: Response }> {
  if (!UUID.test(attemptId)) return { ok: false, response: errorResponse(400, 'INVALID_INPUT', 'attempt id must be a uuid') };
  const read = await readJson(request, rid);
  if (!read.ok) return read;
  const parsed = schema.safeParse(read.body);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(body)', message: i.message }));
    return { ok: false, response: json(errorBody('INVALID_INPUT', `Invalid ${what}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { issues }), 400) };
  }
  return { ok: true, value: parsed.data };
}

async function handleDecision(request: Request, attemptId: string, caller: Caller, rid: string): Promise<Response> {
  const body = await readAttemptCommand(request, rid, attemptId, ApprovalDecisionRequestSchema, 'decision');
  if (!body.ok) return body.response;
  try {
    // under the approver's identity: SQL decides who may approve, and records who did
    const answer = await asCaller(db(), caller, (tx) => rpc.decideApproval(tx, attemptId, body.value.decision, body.value.comment ?? null));
    log('info', 'approval decided', { request_id: rid, attempt_id: attemptId, decision: body.value.decision, recorded: answer.recorded, status: answer.status });
    return json(answer, 200);
  } catch (err) {
    return failure(err, rid, 'handoff', { attempt_id: attemptId });
  }
}

async function handleOverride(request: Request, attemptId: string, caller: Caller, rid: string): Promise<Response> {
  const body = await readAttemptCommand(request, rid, attemptId, OverrideRequestSchema, 'override');
  if (!body.ok) return body.response;
  try {
    const answer = await asCaller(db(), caller, (tx) => rpc.overrideHandoff(tx, attemptId, body.value.reason));
    log('info', 'handoff overridden', { request_id: rid, attempt_id: attemptId, override_attempt_id: answer.override.attempt_id, recorded: answer.recorded, verdict: answer.verdict });
    return json(answer, 200);
  } catch (err) {
    return failure(err, rid, 'handoff', { attempt_id: attemptId });
  }
}

async function handleStatus(request: Request, attemptId: string, caller: Caller, rid: string): Promise<Response> {
  if (!/^[0-9a-f-]{36}$/i.test(attemptId)) return errorResponse(400, 'INVALID_INPUT', 'attempt id must be a uuid');
  if (/\btext\/event-stream\b/i.test(request.headers.get('accept') ?? '')) {
    return eventStream((emit) => followApproval(attemptId, caller, emit));
  }
  try {
    // under the caller's identity: RLS shows a member their team's attempts, and nobody else's
    const [row] = await asCaller(db(), caller, (tx) => tx`select id, request_id, sd_id, handoff_type, status, started_at, finished_at, result
      from public.handoff_attempts where id = ${attemptId}::uuid`);
    if (!row) return errorResponse(404, 'ATTEMPT_NOT_FOUND', `no handoff attempt ${attemptId}`);
    return json(row);
  } catch (err) {
    return failure(err, rid, 'handoff');
  }
}

async function handleRun(request: Request, claims: Claims, caller: Caller, rid: string): Promise<Response> {
  const read = await readJson(request, rid);
  if (!read.ok) return read.response;
  const parsed = parseHandoffRequest(read.body);
  if (!parsed.ok) {
    // Counted for the promotion gate's unknown-input rate: once per caller and window, and only
    // when the request named a real directive (SQL decides both; see fn_record_unknown_input).
    if (parsed.error.code === 'UNKNOWN_HANDOFF_TYPE') {
      const raw = read.body as { handoff_type?: unknown; sd_id?: unknown };
      await recordUnknownInput('handoff_type', String(raw.handoff_type), {
        caller: `${String(claims.role)}:${String(claims.sub ?? '')}`,
        sdId: typeof raw.sd_id === 'string' ? raw.sd_id : null,
      });
    }
    return json(errorBody(parsed.error.code, parsed.error.message, parsed.error.details), 400);
  }
  const req = parsed.value;
  const sql = db();

  // Idempotency-Key (Stripe / IETF draft): same key + same body → stored answer; other body → 422.
  const key = request.headers.get('idempotency-key');
  if (key !== null && !/^[\x21-\x7e]{1,255}$/.test(key)) {
    return errorResponse(400, 'INVALID_INPUT', 'Idempotency-Key must be 1-255 printable ASCII characters');
  }
  const scope = await idempotencyScope('handoff', String(claims.role), typeof claims.sub === 'string' ? claims.sub : undefined);
  const fingerprint = await requestFingerprint(read.body);
  const useKey = key !== null && !req.dry_run;
  if (useKey) {
    try {
      const idem = await rpc.idempotencyBegin(sql, scope, key, fingerprint);
      if (idem.outcome === 'replay') {
        const stored = idem.response_body as Record<string, unknown>;
        const body = 'error' in stored ? { ...stored, replay: true } : { ...stored, replay: true, replay_reason: 'idempotency_key' };
        return json(body, idem.response_status ?? 200, { 'idempotent-replayed': 'true' });
      }
      if (idem.outcome === 'mismatch') return errorResponse(422, 'IDEMPOTENCY_MISMATCH', 'this Idempotency-Key was used with a different request body');
      if (idem.outcome === 'in_flight') return errorResponse(409, 'IDEMPOTENCY_IN_FLIGHT', 'a request with this Idempotency-Key is still being processed; retry later', null, { 'retry-after': '1' });
    } catch (err) {
      return failure(err, rid, 'handoff');
    }
  }
  const attemptRid = await attemptRequestId(req, scope, useKey ? key : null, caller);
  const logFields = { request_id: rid, sd_id: req.sd_id, handoff_type: req.handoff_type };
  const finish = async (status: number, body: unknown) => {
    if (!useKey) return;
    // Only an answer the same body always gets is stored; anything else (a 5xx, a 409 WRONG_PHASE
    // or SD_BUSY, …) frees the key, so a retry with the same key runs again.
    // Nor is a handoff awaiting approval (202; see isFinalAnswer).
    if (!isFinalAnswer(status, body)) await rpc.idempotencyAbandon(sql, scope, key).catch(() => {});
    else await rpc.idempotencyComplete(sql, scope, key, fingerprint, status, body as never).catch((e) => log('error', 'idempotency store failed', { ...logFields, error: String(e) }));
  };
  const run = (extra: Partial<Parameters<typeof runHandoff>[0]> = {}) =>
    runHandoff({ sql, caller, request: req, requestId: attemptRid, logId: rid, executors: { signingSecret: settings().SUBAGENT_SIGNING_SECRET }, concurrency: settings().STAGEGATE_GATE_CONCURRENCY, readMode: (t) => modeCache().read(t), ...extra });
  const settle = async (promise: Promise<HandoffResponse>): Promise<{ status: number; body: unknown }> => {
    try {
      const body = await promise;
      log('info', 'handoff answered', { ...logFields, attempt_id: body.attempt_id, verdict: body.verdict, score: body.score, wall_ms: body.wall_ms });
      // approvals: the automated gates passed; people decide next (202, and where to follow it)
      if (body.verdict === 'awaiting_approval') return { status: 202, body: { ...body, ...approvalLinks(request, body.attempt_id) } };
      return { status: 200, body };
    } catch (err) {
      const m = mapDbError(err);
      if (m.code === 'INTERNAL') log('error', 'handoff failed', { ...logFields, error: String(err) });
      return { status: m.status, body: errorBody(m.code, m.message, m.details) };
    }
  };

  const accept = request.headers.get('accept') ?? '';
  const prefer = request.headers.get('prefer') ?? '';
  if (/\brespond-async\b/i.test(prefer)) {
    let begun: (value: { attempt_id: string; request_id: string }) => void = () => {};
    const whenBegun = new Promise<{ attempt_id: string; request_id: string }>((r) => { begun = r; });
    const work = settle(run({ onBegun: (b) => begun({ attempt_id: b.attempt_id, request_id: b.request_id }) }));
    const first = await Promise.race([whenBegun, work.then((w) => ({ finished: w }))]);
    if ('finished' in first) {
      await finish(first.finished.status, first.finished.body);
      return json(first.finished.body, first.finished.status);
    }
    const background = work.then((w) => finish(w.status, w.body));
    // deno-lint-ignore no-explicit-any
    (globalThis as any).EdgeRuntime?.waitUntil?.(background);
    const statusUrl = `${new URL(request.url).origin}/functions/v1/handoff/attempts/${first.attempt_id}`;
    return json({ ...first, status_url: statusUrl }, 202, { location: statusUrl });
  }
  if (/\btext\/event-stream\b/i.test(accept)) {
    const stream = new ReadableStream<Uint8Array>({
      async start(controller) {
        const result = await settle(run({ onEvent: (e) => controller.enqueue(sse(e.type, e)) }));
        await finish(result.status, result.body);
        const body = result.body as { verdict?: string; attempt_id?: string };
        if (result.status === 202 && body.attempt_id) {
          // approvals: the stream stays with the waiting handoff until it is settled
          controller.enqueue(sse('awaiting_approval', result.body));
          const emit = (event: string, data: unknown) => controller.enqueue(sse(event, data));
          await followApproval(body.attempt_id, caller, emit).catch((err) => {
            const m = mapDbError(err);
            emit('error', errorBody(m.code, m.message, m.details));
          });
        } else {
          controller.enqueue(sse(result.status === 200 ? 'verdict' : 'error', result.body));
        }
        controller.close();
      },
    });
    return new Response(stream, { headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' } });
  }
  const result = await settle(run());
  await finish(result.status, result.body);
  return json(result.body, result.status, result.status === 503 ? { 'retry-after': '1' } : {});
}

// withCors: the console calls this from the browser (any static host), with a bearer token.
Deno.serve(withCors(async (request) => {
  const rid = newRequestId(request);
  try {
    const auth = await authorisedCaller(request, 'may not run handoffs: use an authenticated user or the service role');
    if ('response' in auth) return auth.response;
    const { claims } = auth;
    const who = await callerOf(request, auth.caller);
    if ('response' in who) return who.response;
    const path = new URL(request.url).pathname.replace(/^\/functions\/v1/, '').replace(/^\/handoff/, '');
    const status = /^\/attempts\/([^/]+)$/.exec(path);
    if (status && request.method === 'GET') return await handleStatus(request, status[1] ?? '', who.caller, rid);
    const command = /^\/attempts\/([^/]+)\/(approvals|override)$/.exec(path);
    if (command) {
      if (request.method !== 'POST') return errorResponse(405, 'METHOD_NOT_ALLOWED', 'use POST', null, { allow: 'POST' });
      return command[2] === 'approvals'
        ? await handleDecision(request, command[1] ?? '', who.caller, rid)
        : await handleOverride(request, command[1] ?? '', who.caller, rid);
    }
    if (path !== '' && path !== '/') return errorResponse(404, 'NOT_FOUND', `no route ${path}`);
    if (request.method !== 'POST') return errorResponse(405, 'METHOD_NOT_ALLOWED', 'use POST', null, { allow: 'POST' });
    return await handleRun(request, claims, who.caller, rid);
  } catch (err) {
    return failure(err, rid, 'handoff');
  }
}));
