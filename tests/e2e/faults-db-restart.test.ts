// PostgreSQL restarted (fast shutdown, then a crash: SIGKILL of the whole server) while handoffs
// are in flight. A private embedded server in a temp folder, so no other test file feels it. Each
// in-flight request must end as a complete result or a retryable 503 DB_UNAVAILABLE; nothing may
// be half-applied; the same requests retried afterwards must succeed. Durable settings (fsync,
// synchronous_commit on): with them off a crash loses acknowledged commits, by design of Postgres.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOUR_MS } from '../../shared/idempotency.ts';
import { generateWebhookSecret, startAgentServer, type AgentServer } from '../../stack/agent-server.ts';
import { bootstrap, createDatabase, migrate, waitForDatabase, withDatabase } from '../../stack/db.ts';
import { freePort } from '../../stack/ports.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../stack/postgres.ts';
import { counts, seedDirective, useOnlyAgents } from '../helpers/fixtures.ts';
import { startTestFunctions, type TestFunctions } from '../helpers/functions.ts';

const secret = generateWebhookSecret();
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stagegate-faults-'));
fs.chmodSync(dataDir, 0o755);
let port: number;
let pg: EmbeddedPostgres;
let url: string;
let sql: postgres.Sql;
let agents: AgentServer;
let fns: TestFunctions;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  port = await freePort();
  pg = await startEmbeddedPostgres({ dataDir, port, durable: true });
  await waitForDatabase(pg.url());
  await bootstrap(pg.url());
  await createDatabase(pg.url(), 'faults');
  url = withDatabase(pg.url(), 'faults');
  await bootstrap(url);
  await migrate(url);
  sql = postgres(url, { max: 4, onnotice: () => {} });
  agents = await startAgentServer({ secret });
  fns = await startTestFunctions(url, { SUBAGENT_SIGNING_SECRET: secret });
  await useOnlyAgents(sql, [{ code: 'STEADY', target: `${agents.url}/agents/steady?delay=700&score=95` }]);
}, 120_000);
afterAll(async () => {
  await fns?.stop();
  await agents?.stop();
  await sql?.end({ timeout: 1 });
  await pg?.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

function post(body: unknown) {
  return fetch(`${fns.functionsUrl}/handoff`, {
    method: 'POST',
    headers: { authorization: `Bearer ${fns.serviceRoleKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  }).then(async (r) => ({ status: r.status, retryAfter: r.headers.get('retry-after'), body: await r.json() }));
}

/** SIGKILL of the postmaster's whole process group: a crash, recovery on the next start. */
async function crash(): Promise<void> {
  const pid = Number(fs.readFileSync(path.join(dataDir, 'pgdata', 'postmaster.pid'), 'utf8').split('\n')[0]);
  process.kill(-pid, 'SIGKILL');
  for (let i = 0; i < 200; i++) {
    try { process.kill(pid, 0); } catch { return; }
    await sleep(25);
  }
  throw new Error('postgres did not die');
}

async function outage(how: 'fast-shutdown' | 'crash', prefix: string) {
  const toNextHour = HOUR_MS - (Date.now() % HOUR_MS);
  if (toNextHour < 30_000) await sleep(toNextHour + 100); // the derived request id is per hour
  const sds = Array.from({ length: 6 }, (_, i) => `SD-${prefix}-${i}`);
  for (const id of sds) await seedDirective(sql, { id, phase: 'EXEC' });
  const bodies = sds.map((sd) => ({ sd_id: sd, handoff_type: 'EXEC-TO-PLAN', session_id: `s-${prefix}` }));
  const inFlight = bodies.map((b) => post(b));
  // Every attempt begun, its sub-agent still working: take the database away.
  for (let i = 0; i < 200; i++) {
    const [row] = await sql<{ n: number }[]>`select count(*)::int as n from public.handoff_attempts where sd_id = any(${sds})`;
    if (row!.n === sds.length) break;
    await sleep(20);
  }
  if (how === 'crash') await crash();
  else await pg.stop();
  await sleep(300);
  pg = await startEmbeddedPostgres({ dataDir, port, durable: true });
  await waitForDatabase(url);

  const answers = await Promise.all(inFlight);
  const problems = () => fns.logs.filter((l) => !/"level":"info"|OPS_WEBHOOK_SECRETS/.test(l)).join('\n');
  for (const a of answers) {
    if (a.status === 200) expect(a.body.verdict).toBe('accepted');
    else {
      expect(a.status, `${JSON.stringify(a.body)}\n${problems()}`).toBe(503);
      expect(a.body.error.code).toBe('DB_UNAVAILABLE');
      expect(a.retryAfter).toBe('1');
    }
  }
  // Nothing half-applied: each SD either moved with exactly one completed audit, or did not move.
  for (const sd of sds) {
    const c = await counts(sql, sd);
    if (c.phase === 'EXEC_COMPLETE') expect(c).toMatchObject({ completed: 1, handoffs: 1, version: 1 });
    else expect(c).toMatchObject({ phase: 'EXEC', completed: 0, handoffs: 0, version: 0 });
  }
  expect(await sql`select invariant, subject, detail from public.fn_check_invariants()`).toEqual([]);

  // What a client does with a 503: wait Retry-After, send the same request again. The function's
  // pool may hand out a connection that died with the old server once; the next try gets a new one.
  const retried = await Promise.all(bodies.map(async (b) => {
    let r = await post(b);
    for (let i = 0; i < 5 && r.status === 503; i++) {
      await sleep(Number(r.retryAfter ?? '1') * 1000);
      r = await post(b);
    }
    return r;
  }));
  for (const r of retried) expect(r).toMatchObject({ status: 200, body: { verdict: 'accepted' } });
  for (const sd of sds) expect(await counts(sql, sd)).toMatchObject({ phase: 'EXEC_COMPLETE', completed: 1, handoffs: 1, version: 1 });
  return answers.map((a) => a.status);
}

describe('PostgreSQL restarted under in-flight handoffs', () => {
  it('fast shutdown: every request completes or answers 503 DB_UNAVAILABLE; retries succeed', async () => {
    const statuses = await outage('fast-shutdown', 'FAST');
    expect(statuses.length).toBe(6);
  });

  it('crash (SIGKILL of the server): the same, after crash recovery', async () => {
    const statuses = await outage('crash', 'CRASH');
    expect(statuses.length).toBe(6);
  });

  it('leaves no invariant violated', async () => {
    expect(await sql`select invariant, subject, detail from public.fn_check_invariants()`).toEqual([]);
    const [open] = await sql<{ n: number }[]>`select count(*)::int as n from public.handoff_attempts where status = 'in_progress'`;
    expect(open!.n).toBe(0);
  });
});
