// Database-triggered handoffs end to end: a row inserted into public.handoff_requests is run by
// stack/consumer.ts through the real handoff function, and the verdict lands on the row — exactly
// once, even when the consumer process is SIGKILLed halfway and another one takes over.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentServer } from '../../stack/agent-server.ts';
import { startConsumer, type Consumer } from '../../stack/consumer.ts';
import { projectRoot } from '../../stack/db.ts';
import type { FreshDatabase } from '../helpers/db.ts';
import { counts, seedDirective, useOnlyAgents } from '../helpers/fixtures.ts';
import { startHandoffEnvironment, type HandoffEnvironment, type TestFunctions } from '../helpers/functions.ts';

let env: HandoffEnvironment;
let db: FreshDatabase;
let fns: TestFunctions;
let agents: AgentServer;
let n = 0;

beforeAll(async () => {
  env = await startHandoffEnvironment();
  ({ db, fns, agents } = env);
});
afterAll(async () => { await env?.stop(); });

const newSd = async (phase = 'EXEC') => {
  const id = `SD-DBT-${++n}`;
  await seedDirective(db.sql, { id, phase });
  return id;
};
const request = async (sd: string, type = 'EXEC-TO-PLAN') =>
  (await db.sql`insert into public.handoff_requests (sd_id, handoff_type, session_id) values (${sd}, ${type}, 'db-trigger') returning id`)[0]!.id as string;
const row = async (id: string) => (await db.sql`select * from public.handoff_requests where id = ${id}`)[0]!;
async function until<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 20000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const v = await probe();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
const finished = (id: string) => until(`request ${id} to finish`, async () => {
  const r = await row(id);
  return ['done', 'error'].includes(r.status) ? r : undefined;
});
const consumer = (extra: Partial<Parameters<typeof startConsumer>[0]> = {}): Promise<Consumer> =>
  startConsumer({ dbUrl: db.url, functionsUrl: fns.functionsUrl, serviceRoleKey: fns.serviceRoleKey, log: () => {}, ...extra });

describe('LISTEN/NOTIFY consumer', () => {
  it('runs an inserted request at once (NOTIFY, not the poll) and writes the verdict back', async () => {
    await useOnlyAgents(db.sql, [{ code: 'QUICK', target: `${agents.url}/agents/quick?score=96` }]);
    const c = await consumer({ pollMs: 60_000 });
    try {
      const sd = await newSd();
      const t0 = Date.now();
      const id = await request(sd);
      const r = await finished(id);
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(r).toMatchObject({ status: 'done', attempts: 1, error: null, verdict: { verdict: 'accepted', sd_id: sd, phase_after: 'EXEC_COMPLETE', score: 96 } });
      expect(await counts(db.sql, sd)).toMatchObject({ completed: 1, handoffs: 1, phase: 'EXEC_COMPLETE', version: 1 });
    } finally {
      await c.stop();
    }
  });

  it('picks up rows inserted while no consumer ran, and writes a refusal back as the error', async () => {
    await useOnlyAgents(db.sql, [{ code: 'QUICK', target: `${agents.url}/agents/quick` }]);
    const ok = await request(await newSd());
    const wrong = await request(await newSd('LEAD'));
    const c = await consumer({ pollMs: 60_000 });
    try {
      expect(await finished(ok)).toMatchObject({ status: 'done', verdict: { verdict: 'accepted' } });
      expect(await finished(wrong)).toMatchObject({ status: 'error', error: { http_status: 409, code: 'WRONG_PHASE' } });
    } finally {
      await c.stop();
    }
  });
});

describe('exactly once', () => {
  it('a consumer SIGKILLed mid-handoff: the next one replays the answer, one transition, the gate ran once', async () => {
    await useOnlyAgents(db.sql, [{ code: 'SLOW', target: `${agents.url}/agents/slow-kill?delay=2500&score=95`, timeoutMs: 10000 }]);
    const sd = await newSd();
    const child = spawn(path.join(projectRoot, 'node_modules/.bin/tsx'), ['stack/consumer.ts'], {
      cwd: projectRoot,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, DATABASE_URL: db.url, STAGEGATE_FUNCTIONS_URL: fns.functionsUrl, SUPABASE_SERVICE_ROLE_KEY: fns.serviceRoleKey,
             STAGEGATE_WORKER_ID: 'doomed', STAGEGATE_LEASE_MS: '1500', STAGEGATE_POLL_MS: '200' },
    });
    const exited = new Promise((r) => child.once('exit', r));
    let output = '';
    child.stdout.on('data', (d) => { output += d; });
    child.stderr.on('data', (d) => { output += d; });
    try {
      await until('the child consumer to start', async () => output.includes('consumer started'), 30000);
      const id = await request(sd);
      // The gate is running inside the handoff function on the child's behalf: kill it now.
      await until('the gate call', async () => agents.calls.some((c) => c.name === 'slow-kill'));
      expect(await row(id)).toMatchObject({ status: 'running', locked_by: 'doomed', attempts: 1 });
      process.kill(-child.pid!, 'SIGKILL');
      await exited;

      const c = await consumer({ workerId: 'survivor', leaseMs: 1500, pollMs: 200 });
      try {
        const r = await finished(id);
        expect(r.status).toBe('done');
        expect(r.locked_by).toBe('survivor');
        expect(r.attempts).toBeGreaterThanOrEqual(2);
        expect(r.verdict).toMatchObject({ verdict: 'accepted', replay: true, sd_id: sd });
      } finally {
        await c.stop();
      }
      expect(await counts(db.sql, sd)).toMatchObject({ audits: 1, completed: 1, handoffs: 1, results: 1, phase: 'EXEC_COMPLETE', version: 1 });
      expect(agents.calls.filter((c) => c.name === 'slow-kill')).toHaveLength(1);
    } finally {
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ }
    }
  });

  it('a worker that died after the function answered but before writing back: the retry replays the stored answer', async () => {
    await useOnlyAgents(db.sql, [{ code: 'ONCE', target: `${agents.url}/agents/once-only` }]);
    const sd = await newSd();
    const id = await request(sd);
    // The dead worker: claimed the row, got the function's answer, never wrote it back.
    await db.sql`select * from public.fn_claim_handoff_request('ghost', '1 second'::interval)`;
    const first = await fetch(`${fns.functionsUrl}/handoff`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fns.serviceRoleKey}`, 'content-type': 'application/json', 'idempotency-key': `handoff-request:${id}` },
      body: JSON.stringify({ sd_id: sd, handoff_type: 'EXEC-TO-PLAN', session_id: 'db-trigger' }),
    }).then((r) => r.json());
    expect(first.verdict).toBe('accepted');
    const c = await consumer({ pollMs: 200 });
    try {
      const r = await finished(id);
      expect(r).toMatchObject({ status: 'done', attempts: 2, verdict: { verdict: 'accepted', replay: true, attempt_id: first.attempt_id } });
    } finally {
      await c.stop();
    }
    expect(await counts(db.sql, sd)).toMatchObject({ completed: 1, handoffs: 1, version: 1 });
    expect(agents.calls.filter((call) => call.name === 'once-only')).toHaveLength(1);
  });
});
