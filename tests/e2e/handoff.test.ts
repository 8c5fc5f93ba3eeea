// POST /functions/v1/handoff end to end: the real Deno runtime, real PostgreSQL, real local HTTP
// sub-agents that check Standard Webhooks signatures, called through supabase-js and fetch.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentServer } from '../../stack/agent-server.ts';
import type { FreshDatabase } from '../helpers/db.ts';
import { counts, seedDirective, useOnlyAgents } from '../helpers/fixtures.ts';
import { startHandoffEnvironment, startTestFunctions, type HandoffEnvironment, type TestFunctions } from '../helpers/functions.ts';

let env: HandoffEnvironment;
let db: FreshDatabase;
let fns: TestFunctions;
let agents: AgentServer;
let secret: string;
let n = 0;

beforeAll(async () => {
  env = await startHandoffEnvironment();
  ({ db, fns, agents, secret } = env);
});
afterAll(async () => { await env?.stop(); });

const agent = (name: string, query = '') => `${agents.url}/agents/${name}${query ? `?${query}` : ''}`;
const newSd = async (phase = 'EXEC', extra: { sdType?: string; storyStatus?: string } = {}) => {
  const id = `SD-E2E-${++n}`;
  await seedDirective(db.sql, { id, phase, ...extra });
  return id;
};
async function post(body: unknown, headers: Record<string, string> = {}, key = fns.serviceRoleKey) {
  const response = await fetch(`${fns.functionsUrl}/handoff`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

describe('parallel sub-agents', () => {
  it('runs five 300 ms agents together and accepts through supabase.functions.invoke', async () => {
    await useOnlyAgents(db.sql, ['A1', 'A2', 'A3', 'A4', 'A5'].map((code) => ({ code, target: agent(code.toLowerCase(), 'delay=300&score=95') })));
    // One handoff first so the function's pool and the agents' sockets are open: the second
    // measures scheduling, not connection set-up.
    await post({ sd_id: await newSd(), handoff_type: 'EXEC-TO-PLAN', session_id: 'warm-up' });
    const sd = await newSd();
    const { data, error } = await fns.client(fns.serviceRoleKey).functions.invoke('handoff', {
      body: { sd_id: sd, handoff_type: 'exec_to_plan', session_id: 's1' },
    });
    expect(error).toBeNull();
    expect(data).toMatchObject({ verdict: 'accepted', phase_before: 'EXEC', phase_after: 'EXEC_COMPLETE', score: 95, threshold: 85, handoff_type: 'EXEC-TO-PLAN' });
    expect(data.gates).toHaveLength(5);
    for (const g of data.gates) expect(g.durationMs).toBeGreaterThanOrEqual(290);
    // Together, not one after another: every agent started before any of them finished
    // (how fast is the benchmark's business: bench/orchestrator.ts).
    const starts = data.gates.map((g: { startedAt: string }) => Date.parse(g.startedAt));
    const ends = data.gates.map((g: { finishedAt: string }) => Date.parse(g.finishedAt));
    expect(Math.max(...starts)).toBeLessThan(Math.min(...ends));
    expect(new Set(agents.calls.filter((c) => /^a[1-5]$/.test(c.name)).map((c) => c.name)).size).toBe(5);
    const c = await counts(db.sql, sd);
    expect(c).toMatchObject({ completed: 1, handoffs: 1, results: 5, phase: 'EXEC_COMPLETE', version: 1 });
  });

  it('starts a dependent as soon as its own dependency finished (critical path, not waves)', async () => {
    await useOnlyAgents(db.sql, [
      { code: 'FAST', target: agent('fast', 'delay=100') },
      { code: 'AFTER_FAST', target: agent('after-fast', 'delay=100'), dependsOn: ['FAST'] },
      { code: 'SLOW', target: agent('slow', 'delay=500') },
    ]);
    const sd = await newSd();
    const r = await post({ sd_id: sd, handoff_type: 'EXEC-TO-PLAN', session_id: 's1' });
    expect(r.status).toBe(200);
    const byCode = Object.fromEntries(r.body.gates.map((g: { code: string }) => [g.code, g]));
    const fastEnd = Date.parse(byCode.FAST.finishedAt);
    const afterStart = Date.parse(byCode.AFTER_FAST.startedAt);
    expect(afterStart).toBeGreaterThanOrEqual(fastEnd);
    // AFTER_FAST did not wait for SLOW (a wave scheduler would start it at ~500 ms).
    expect(Date.parse(byCode.AFTER_FAST.finishedAt)).toBeLessThan(Date.parse(byCode.SLOW.finishedAt));
  });

  it('times a hung agent out with a clear message and still answers', async () => {
    await useOnlyAgents(db.sql, [
      { code: 'HUNG', target: agent('hung', 'mode=hang&delay=0'), timeoutMs: 400, required: true },
      { code: 'FINE', target: agent('fine', 'delay=50') },
    ]);
    const sd = await newSd();
    const r = await post({ sd_id: sd, handoff_type: 'EXEC-TO-PLAN', session_id: 's1' });
    expect(r.status).toBe(200);
    expect(r.body.verdict).toBe('rejected');
    const hung = r.body.gates.find((g: { code: string }) => g.code === 'HUNG');
    expect(hung.issues.join(' ')).toContain('Sub-agent HUNG timed out after 400ms');
    expect(hung.error.kind).toBe('timeout');
    expect(r.body.failed_gate).toBe('HUNG');
    expect((await counts(db.sql, sd)).phase).toBe('EXEC');
  });

  it('does not leak a mutating agent into what its dependent sees', async () => {
    await useOnlyAgents(db.sql, [
      { code: 'MUTATOR', target: agent('mutator', 'mode=mutate') },
      { code: 'OBSERVER', target: agent('observer'), dependsOn: ['MUTATOR'] },
    ]);
    const sd = await newSd();
    const r = await post({ sd_id: sd, handoff_type: 'EXEC-TO-PLAN', session_id: 's1' });
    expect(r.status).toBe(200);
    const observer = agents.calls.filter((c) => c.name === 'observer').at(-1)!;
    expect((observer.body.context as { sd: { title: string } }).sd.title).toBe(`Directive ${sd}`);
  });
});

describe('idempotency and concurrency', () => {
  it('answers a retried request with the first result: no duplicate results, handoffs or audits', async () => {
    await useOnlyAgents(db.sql, [{ code: 'ONE', target: agent('one') }]);
    const sd = await newSd();
    const body = { sd_id: sd, handoff_type: 'EXEC-TO-PLAN', session_id: 's-retry' };
    const first = await post(body);
    const second = await post(body);
    expect(first.body.verdict).toBe('accepted');
    expect(second.status).toBe(200);
    expect(second.body).toMatchObject({ verdict: 'accepted', replay: true, attempt_id: first.body.attempt_id, audit_id: first.body.audit_id });
    expect(await counts(db.sql, sd)).toMatchObject({ audits: 1, completed: 1, handoffs: 1, results: 1, version: 1 });
  });

  it('makes exactly one transition from 50 concurrent identical requests', async () => {
    await useOnlyAgents(db.sql, [{ code: 'ONE', target: agent('one', 'delay=50') }]);
    const sd = await newSd();
    const body = { sd_id: sd, handoff_type: 'EXEC-TO-PLAN', session_id: 's-50' };
    const answers = await Promise.all(Array.from({ length: 50 }, () => post(body)));
    const statuses = answers.map((a) => a.status);
    expect(statuses.every((s) => s < 500)).toBe(true);
    const accepted = answers.filter((a) => a.body.verdict === 'accepted');
    expect(accepted.length).toBeGreaterThanOrEqual(1);
    expect(new Set(accepted.map((a) => a.body.audit_id)).size).toBe(1);
    for (const a of answers.filter((x) => x.status !== 200)) expect(['SD_BUSY', 'ALREADY_TRANSITIONED', 'IDEMPOTENCY_IN_FLIGHT']).toContain(a.body.error.code);
    expect(await counts(db.sql, sd)).toMatchObject({ completed: 1, handoffs: 1, results: 1, version: 1 });
  });

  it('honours Idempotency-Key: same body replays, another body is 422', async () => {
    await useOnlyAgents(db.sql, [{ code: 'ONE', target: agent('one') }]);
    const sd = await newSd();
    const key = `key-${sd}`;
    const body = { sd_id: sd, handoff_type: 'EXEC-TO-PLAN', session_id: 's-key' };
    const first = await post(body, { 'idempotency-key': key });
    const again = await post(body, { 'idempotency-key': key });
    const other = await post({ ...body, session_id: 'another' }, { 'idempotency-key': key });
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    expect(again.body).toMatchObject({ replay: true, audit_id: first.body.audit_id });
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe('IDEMPOTENCY_MISMATCH');
    expect((await counts(db.sql, sd)).completed).toBe(1);
  });

  it('evaluates without any transition on dry_run', async () => {
    await useOnlyAgents(db.sql, [{ code: 'LOW', target: agent('low', 'score=70') }]);
    const sd = await newSd();
    const r = await post({ sd_id: sd, handoff_type: 'EXEC-TO-PLAN', session_id: 's-dry', dry_run: true });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ verdict: 'rejected', dry_run: true, score: 70, threshold: 85, failed_gate: 'SD_TYPE_THRESHOLD', phase_after: 'EXEC', audit_id: null });
    expect(r.body.issues).toContain("SD type 'feature' requires 85% gate score, got 70%");
    expect(await counts(db.sql, sd)).toMatchObject({ audits: 0, handoffs: 0, phase: 'EXEC', version: 0 });
  });
});

describe('breakers shared through Postgres', () => {
  it('opens after repeated failures, as seen by a second, separately started function server', async () => {
    await useOnlyAgents(db.sql, [{ code: 'FLAPPY', target: agent('flappy', 'fail=1000&status=503'), maxRetries: 0, required: false },
      { code: 'STEADY', target: agent('steady') }]);
    for (let i = 0; i < 5; i++) {
      const r = await post({ sd_id: await newSd(), handoff_type: 'EXEC-TO-PLAN', session_id: 's-flap' });
      expect(r.status).toBe(200);
    }
    const [breaker] = await db.sql`select state from public.sub_agent_breakers where sub_agent_code = 'FLAPPY'`;
    expect(breaker?.state).toBe('open');
    const second = await startTestFunctions(db.url, { SUBAGENT_SIGNING_SECRET: secret });
    try {
      const before = agents.calls.filter((c) => c.name === 'flappy').length;
      const r = await fetch(`${second.functionsUrl}/handoff`, {
        method: 'POST',
        headers: { authorization: `Bearer ${second.serviceRoleKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ sd_id: await newSd(), handoff_type: 'EXEC-TO-PLAN', session_id: 's-flap' }),
      });
      const body = await r.json();
      const flappy = body.gates.find((g: { code: string }) => g.code === 'FLAPPY');
      expect(flappy.skipReason ?? flappy.error?.kind).toMatch(/CIRCUIT_OPEN|circuit_open/);
      expect(flappy.attempts).toBe(0);
      expect(agents.calls.filter((c) => c.name === 'flappy').length).toBe(before);
      // The optional gate failing does not block: STEADY carries the handoff.
      expect(body.verdict).toBe('accepted');
    } finally {
      await second.stop();
    }
  });
});

describe('requests the function refuses', () => {
  it('refuses anon and missing tokens', async () => {
    const anon = await post({ sd_id: 'SD-X', handoff_type: 'EXEC-TO-PLAN', session_id: 's' }, {}, fns.anonKey);
    expect(anon.status).toBe(403);
    expect(anon.body.error.code).toBe('FORBIDDEN');
    const none = await fetch(`${fns.functionsUrl}/handoff`, { method: 'POST', body: '{}' });
    expect(none.status).toBe(401);
  });

  it('answers bad input with 4xx codes, never 500', async () => {
    const sd = await newSd();
    expect((await post('{not json')).body.error.code).toBe('INVALID_INPUT');
    const unknown = await post({ sd_id: sd, handoff_type: 'exec-to-plam', session_id: 's' });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.code).toBe('UNKNOWN_HANDOFF_TYPE');
    expect(unknown.body.error.details.suggestions).toContain('EXEC-TO-PLAN');
    const extra = await post({ sd_id: sd, handoff_type: 'EXEC-TO-PLAN', session_id: 's', bogus: 1 });
    expect(extra.status).toBe(400);
    const text = await fetch(`${fns.functionsUrl}/handoff`, { method: 'POST', headers: { authorization: `Bearer ${fns.serviceRoleKey}`, 'content-type': 'text/plain' }, body: 'x' });
    expect(text.status).toBe(415);
    const missing = await post({ sd_id: 'SD-NOPE-1', handoff_type: 'EXEC-TO-PLAN', session_id: 's' });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('SD_NOT_FOUND');
    const wrong = await post({ sd_id: sd, handoff_type: 'PLAN-TO-LEAD', session_id: 's' });
    expect(wrong.status).toBe(409);
    expect(wrong.body.error.code).toBe('WRONG_PHASE');
  });

  it('refuses a session other than the claim holder', async () => {
    await useOnlyAgents(db.sql, [{ code: 'LOW', target: agent('low', 'score=10') }]);
    const sd = await newSd();
    const first = await post({ sd_id: sd, handoff_type: 'EXEC-TO-PLAN', session_id: 'holder', skip_idempotency: true });
    expect(first.body.verdict).toBe('rejected');
    const other = await post({ sd_id: sd, handoff_type: 'EXEC-TO-PLAN', session_id: 'intruder' });
    expect(other.status).toBe(409);
    expect(other.body.error.code).toBe('CLAIMED_BY_OTHER_SESSION');
  });
});

describe('long handoffs', () => {
  it('streams gate events then the verdict with Accept: text/event-stream', async () => {
    await useOnlyAgents(db.sql, [{ code: 'ONE', target: agent('one', 'delay=100') }]);
    const sd = await newSd();
    const response = await fetch(`${fns.functionsUrl}/handoff`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fns.serviceRoleKey}`, 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ sd_id: sd, handoff_type: 'EXEC-TO-PLAN', session_id: 's-sse' }),
    });
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const text = await response.text();
    const events = [...text.matchAll(/^event: (.+)$/gm)].map((m) => m[1]);
    expect(events).toEqual(['gate_started', 'gate_finished', 'verdict']);
  });

  it('answers 202 with a status URL for Prefer: respond-async, then the attempt completes', async () => {
    await useOnlyAgents(db.sql, [{ code: 'ONE', target: agent('one', 'delay=300') }]);
    const sd = await newSd();
    const r = await post({ sd_id: sd, handoff_type: 'EXEC-TO-PLAN', session_id: 's-async' }, { prefer: 'respond-async' });
    expect(r.status).toBe(202);
    expect(r.body.status_url).toMatch(/\/functions\/v1\/handoff\/attempts\/[0-9a-f-]{36}$/);
    let status = 'in_progress';
    for (let i = 0; i < 50 && status === 'in_progress'; i++) {
      await new Promise((res) => setTimeout(res, 100));
      const s = await fetch(r.body.status_url, { headers: { authorization: `Bearer ${fns.serviceRoleKey}` } });
      status = (await s.json()).status;
    }
    expect(status).toBe('completed');
  });
});

describe('afterwards', () => {
  it('leaves no invariant violated anywhere in the database', async () => {
    expect(await db.sql`select invariant, subject, detail from public.fn_check_invariants()`).toEqual([]);
  });
});
