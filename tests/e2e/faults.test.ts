// Faults on the function side: the function server SIGKILLed in the middle of a handoff, and
// sub-agents that hang, answer garbage, fail then recover, or drop the connection.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOUR_MS } from '../../shared/idempotency.ts';
import { generateWebhookSecret, startAgentServer, type AgentServer } from '../../stack/agent-server.ts';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { counts, seedDirective, useOnlyAgents } from '../helpers/fixtures.ts';
import { startTestFunctions, type TestFunctions } from '../helpers/functions.ts';

const secret = generateWebhookSecret();
let db: FreshDatabase;
let agents: AgentServer;
const servers: TestFunctions[] = [];

beforeAll(async () => {
  db = await freshDatabase();
  agents = await startAgentServer({ secret });
});
afterAll(async () => {
  for (const s of servers) await s.stop();
  await agents?.stop();
  await db?.drop();
});

async function functions(): Promise<TestFunctions> {
  const fns = await startTestFunctions(db.url, { SUBAGENT_SIGNING_SECRET: secret });
  servers.push(fns);
  return fns;
}

function post(fns: TestFunctions, body: unknown) {
  return fetch(`${fns.functionsUrl}/handoff`, {
    method: 'POST',
    headers: { authorization: `Bearer ${fns.serviceRoleKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const agent = (name: string, query: string) => `${agents.url}/agents/${name}?${query}`;
const callsOf = (name: string) => agents.calls.filter((c) => c.name === name).length;

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(25);
  }
  throw new Error('condition not reached in time');
}

describe('function server killed mid-handoff', () => {
  it('completes on retry with a new server, reusing the sub-agent results already recorded', async () => {
    // Without an Idempotency-Key the request id is derived per hour: do not straddle an hour.
    const toNextHour = HOUR_MS - (Date.now() % HOUR_MS);
    if (toNextHour < 30_000) await sleep(toNextHour + 100);
    await useOnlyAgents(db.sql, [
      { code: 'QUICK_A', target: agent('quick-a', 'delay=50&score=95') },
      { code: 'QUICK_B', target: agent('quick-b', 'delay=80&score=90') },
      { code: 'SLOW_C', target: agent('slow-c', 'delay=4000&score=100') },
    ]);
    const sd = 'SD-FAULT-KILL';
    await seedDirective(db.sql, { id: sd, phase: 'EXEC' });
    const body = { sd_id: sd, handoff_type: 'EXEC-TO-PLAN', session_id: 's-kill' };

    const first = await functions();
    const inFlight = post(first, body).then((r) => ({ status: r.status }), (err: unknown) => ({ error: err }));
    // Two agents finished and recorded, the slow one still running: kill -9 now.
    await waitFor(async () => {
      const [row] = await db.sql<{ n: number }[]>`select count(*)::int as n from public.sub_agent_execution_results where sd_id = ${sd}`;
      return row!.n >= 2 ? row!.n : undefined;
    });
    expect(callsOf('slow-c')).toBe(1);
    process.kill(first.server.pid!, 'SIGKILL');
    const lost = await inFlight;
    expect('error' in lost).toBe(true); // the connection died with the server: no answer at all
    const [open] = await db.sql<{ status: string }[]>`select status from public.handoff_attempts where sd_id = ${sd}`;
    expect(open?.status).toBe('in_progress');
    expect((await counts(db.sql, sd)).phase).toBe('EXEC');

    const second = await functions();
    const retry = await post(second, body);
    const answer = await retry.json();
    expect(retry.status).toBe(200);
    expect(answer.verdict).toBe('accepted');
    // The agents that had finished were not called again; the one that never answered was.
    expect(callsOf('quick-a')).toBe(1);
    expect(callsOf('quick-b')).toBe(1);
    expect(callsOf('slow-c')).toBe(2);
    const reused = Object.fromEntries(answer.gates.map((g: { code: string; reused: boolean }) => [g.code, g.reused]));
    expect(reused).toEqual({ QUICK_A: true, QUICK_B: true, SLOW_C: false });
    expect(await counts(db.sql, sd)).toMatchObject({ audits: 1, completed: 1, handoffs: 1, results: 3, phase: 'EXEC_COMPLETE', version: 1 });
    const [attempts] = await db.sql<{ n: number }[]>`select count(*)::int as n from public.handoff_attempts where sd_id = ${sd}`;
    expect(attempts!.n).toBe(1);
    // A third identical request is a replay of the same transition.
    const again = await (await post(second, body)).json();
    expect(again).toMatchObject({ verdict: 'accepted', replay: true, audit_id: answer.audit_id });
    expect(await counts(db.sql, sd)).toMatchObject({ audits: 1, completed: 1, results: 3 });
  });
});

describe('misbehaving sub-agents', () => {
  it('times out a hung agent, does not retry garbage, retries a 500 and a dropped connection', async () => {
    await useOnlyAgents(db.sql, [
      { code: 'HANGS', target: agent('hangs', 'mode=hang'), timeoutMs: 300, maxRetries: 0, required: false },
      { code: 'GARBAGE', target: agent('garbage', 'mode=garbage'), maxRetries: 2, required: false },
      { code: 'INVALID', target: agent('invalid', 'score=250'), maxRetries: 2, required: false },
      { code: 'RECOVERS', target: agent('recovers', 'fail=1&score=92'), maxRetries: 2 },
      { code: 'DROPS', target: agent('drops', 'mode=close'), maxRetries: 1, required: false },
    ]);
    const sd = 'SD-FAULT-AGENTS';
    await seedDirective(db.sql, { id: sd, phase: 'EXEC' });
    const fns = servers.at(-1) ?? await functions();
    const response = await post(fns, { sd_id: sd, handoff_type: 'EXEC-TO-PLAN', session_id: 's-agents' });
    expect(response.status).toBe(200);
    const body = await response.json();
    const gate = (code: string) => body.gates.find((g: { code: string }) => g.code === code);

    expect(gate('HANGS')).toMatchObject({ passed: false, attempts: 1, error: { kind: 'timeout' } });
    expect(gate('HANGS').issues.join(' ')).toContain('Sub-agent HANGS timed out after 300ms');
    // Invalid results would fail the same way again: one call each despite max_retries 2.
    expect(gate('GARBAGE')).toMatchObject({ passed: false, attempts: 1, error: { kind: 'invalid_result' } });
    expect(gate('GARBAGE').issues.join(' ')).toMatch(/not JSON/);
    expect(gate('INVALID')).toMatchObject({ passed: false, attempts: 1, error: { kind: 'invalid_result' } });
    expect(callsOf('garbage')).toBe(1);
    expect(callsOf('invalid')).toBe(1);
    // 5xx then healthy: retried, passes on the second attempt.
    expect(gate('RECOVERS')).toMatchObject({ passed: true, score: 92, attempts: 2 });
    expect(callsOf('recovers')).toBe(2);
    // A dropped connection is a network error: retried up to max_retries, then reported.
    expect(gate('DROPS')).toMatchObject({ passed: false, attempts: 2, error: { kind: 'network' } });
    // Two attempts by the orchestrator. Deno's HTTP client may re-send an attempt whose reused
    // keep-alive connection closed without an answer, so count distinct webhook ids (attempt
    // numbers), which is what a Standard Webhooks receiver de-duplicates on.
    expect(new Set(agents.calls.filter((c) => c.name === 'drops').map((c) => c.attempt))).toEqual(new Set([1, 2]));

    const stored = await db.sql<{ code: string; passed: boolean; attempts: number }[]>`
      select sub_agent_code as code, passed, attempts from public.sub_agent_execution_results where sd_id = ${sd} order by 1`;
    expect(stored.map((r) => [r.code, r.passed, r.attempts])).toEqual([
      ['DROPS', false, 2], ['GARBAGE', false, 1], ['HANGS', false, 1], ['INVALID', false, 1], ['RECOVERS', true, 2],
    ]);
    // Only RECOVERS is required and it passed, but the failed optional gates weigh in the score.
    expect(['accepted', 'rejected']).toContain(body.verdict);
    expect(await counts(db.sql, sd)).toMatchObject({ audits: 1, results: 5 });
  });
});

describe('afterwards', () => {
  it('leaves no invariant violated', async () => {
    expect(await db.sql`select invariant, subject, detail from public.fn_check_invariants()`).toEqual([]);
  });
});
