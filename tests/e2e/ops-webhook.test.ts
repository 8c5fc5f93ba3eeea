// deno-lint-ignore-file no-explicit-any -- JSON answers from SQL and HTTP are inspected loosely here
// POST /functions/v1/ops-webhook end to end: the real Deno runtime and PostgreSQL, requests signed
// with the reference Standard Webhooks signer. Also the handoff response's mode_read and the
// unknown-input counter the promotion gate reads.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { generateWebhookSecret } from '../../stack/agent-server.ts';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { seedDirective } from '../helpers/fixtures.ts';
import { startTestFunctions, type TestFunctions } from '../helpers/functions.ts';

const OLD = generateWebhookSecret();
const NEW = generateWebhookSecret();
const OTHER = generateWebhookSecret();
let db: FreshDatabase;
let fns: TestFunctions;
let n = 0;

beforeAll(async () => {
  db = await freshDatabase();
  fns = await startTestFunctions(db.url, { OPS_WEBHOOK_SECRETS: `${OLD},${NEW}`, STAGEGATE_MODE_TTL_MS: '0',
    // The first read opens the pool's connection; on a loaded 2-core machine that passed 250 ms and
    // the answer said 'fallback'. These tests are about what is read, not how fast.
    STAGEGATE_MODE_TIMEOUT_MS: '10000' });
});
afterAll(async () => {
  await fns?.stop();
  await db?.drop();
});

interface Sent { status: number; body: Record<string, any> }
async function send(body: unknown, o: { secret?: string; id?: string; ts?: number; headers?: Record<string, string>; url?: string } = {}): Promise<Sent> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  const id = o.id ?? `msg_${Date.now()}_${++n}`;
  const ts = o.ts ?? Math.floor(Date.now() / 1000);
  const response = await fetch(o.url ?? `${fns.functionsUrl}/ops-webhook`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(ts),
      'webhook-signature': new Webhook(o.secret ?? OLD).sign(id, new Date(ts * 1000), text), ...o.headers,
    },
    body: text,
  });
  return { status: response.status, body: await response.json() };
}
const mode = async (scope = '*') => (await db.sql`select fn_get_validation_mode(${scope}) as m`)[0]!.m as string;
const changesCount = async () => (await db.sql`select count(*)::int as n from validation_mode_changes`)[0]!.n as number;

describe('signature, timestamp and replay', () => {
  it('applies a signed {mode, reason}, audits it as the webhook and logs one JSON line', async () => {
    const r = await send({ mode: 'WARN', reason: 'start the canary' }, { id: 'msg_first' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ changed: true, kind: 'mode', webhook_id: 'msg_first', mode_read: { mode: 'ENFORCE', source: 'database' },
      changes: [{ scope: '*', old_mode: 'ENFORCE', new_mode: 'WARN', forced: false }] });
    expect(await mode()).toBe('WARN');
    const [audit] = await db.sql`select reason, via, forced, actor_role, actor_via from validation_mode_changes order by id desc limit 1`;
    expect(audit).toEqual({ reason: 'start the canary', via: 'ops-webhook msg_first', forced: false, actor_role: 'service_role', actor_via: 'http' });
    const line = await fns.logLine((l) => l.msg === 'validation mode changed' && l.webhook_id === 'msg_first');
    expect(line).toMatchObject({ level: 'info', scope: '*', old_mode: 'ENFORCE', new_mode: 'WARN', reason: 'start the canary', forced: false, actor: expect.any(String), timestamp: expect.any(String) });
  });

  it('refuses a replayed webhook-id with 409 and no effect', async () => {
    const before = await changesCount();
    const first = await send({ mode: 'OFF', reason: 'once' }, { id: 'msg_replay' });
    expect(first.status).toBe(200);
    const again = await send({ mode: 'WARN', reason: 'twice' }, { id: 'msg_replay' });
    expect(again).toMatchObject({ status: 409, body: { error: { code: 'WEBHOOK_REPLAYED' } } });
    expect(await mode()).toBe('OFF');
    expect(await changesCount()).toBe(before + 1);
    await send({ mode: 'WARN', reason: 'restore' });
  });

  it('verifies with either of two active secrets (rotation) and refuses a third', async () => {
    expect((await send({ mode: 'WARN', reason: 'old key' }, { secret: OLD })).status).toBe(200);
    expect((await send({ mode: 'WARN', reason: 'new key' }, { secret: NEW })).status).toBe(200);
    const other = await send({ mode: 'OFF', reason: 'stolen?' }, { secret: OTHER });
    expect(other).toMatchObject({ status: 401, body: { error: { code: 'WEBHOOK_SIGNATURE_INVALID' } } });
    expect(await mode()).toBe('WARN');
  });

  it('refuses stale and future timestamps, a tampered body and missing headers with 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    expect(await send({ mode: 'OFF', reason: 'r' }, { ts: now - 301 })).toMatchObject({ status: 401, body: { error: { code: 'WEBHOOK_TIMESTAMP_INVALID' } } });
    expect(await send({ mode: 'OFF', reason: 'r' }, { ts: now + 301 })).toMatchObject({ status: 401, body: { error: { code: 'WEBHOOK_TIMESTAMP_INVALID' } } });
    const sig = new Webhook(OLD).sign('msg_t', new Date(now * 1000), '{"mode":"WARN","reason":"r"}');
    const tampered = await send('{"mode":"OFF","reason":"r"}', { id: 'msg_t', ts: now, headers: { 'webhook-signature': sig } });
    expect(tampered).toMatchObject({ status: 401, body: { error: { code: 'WEBHOOK_SIGNATURE_INVALID' } } });
    const bare = await fetch(`${fns.functionsUrl}/ops-webhook`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(bare.status).toBe(401);
    expect(await mode()).toBe('WARN');
  });

  it('answers 400 INVALID_INPUT for a signed but invalid body, 405 for GET', async () => {
    expect(await send({ mode: 'STRICT', reason: 'r' })).toMatchObject({ status: 400, body: { error: { code: 'INVALID_INPUT', details: { issues: [{ path: 'mode' }] } } } });
    expect(await send('not json')).toMatchObject({ status: 400, body: { error: { code: 'INVALID_INPUT' } } });
    expect((await fetch(`${fns.functionsUrl}/ops-webhook`)).status).toBe(405);
  });
});

describe('promotion through the webhook', () => {
  it('answers 409 PROMOTION_BLOCKED with the numbers, leaves the id unused, and a forced retry is marked', async () => {
    const blocked = await send({ mode: 'ENFORCE', reason: 'promote' }, { id: 'msg_promote' });
    expect(blocked.status).toBe(409);
    expect(blocked.body.error).toMatchObject({ code: 'PROMOTION_BLOCKED', message: expect.stringContaining('handoffs judged in the last 30 minutes'),
      details: { ok: false, min_handoffs: 20, window_seconds: 1800 } });
    expect(await mode()).toBe('WARN');
    const forced = await send({ mode: 'ENFORCE', reason: 'incident commander override', force: true }, { id: 'msg_promote' });
    expect(forced).toMatchObject({ status: 200, body: { changes: [{ new_mode: 'ENFORCE', forced: true }] } });
    const [audit] = await db.sql`select forced, reason from validation_mode_changes order by id desc limit 1`;
    expect(audit).toEqual({ forced: true, reason: 'incident commander override' });
  });
});

describe('Alertmanager', () => {
  const payload = (status: 'firing' | 'resolved', alertname = 'EnforceGateUnknownRateHigh') => ({
    version: '4', groupKey: '{}:{alertname="x"}', status, receiver: 'stagegate', groupLabels: { alertname }, commonLabels: { alertname },
    commonAnnotations: {}, externalURL: 'http://alertmanager:9093',
    alerts: [{ status, labels: { alertname, severity: 'page' }, annotations: { summary: 'unknown inputs above 0.5%' }, startsAt: '2026-11-25T10:00:00Z', endsAt: '0001-01-01T00:00:00Z', generatorURL: 'http://prom', fingerprint: 'abc' }],
  });

  it('a configured alert firing moves ENFORCE to WARN; its resolution does not promote', async () => {
    expect(await mode()).toBe('ENFORCE');
    const fired = await send(payload('firing'));
    expect(fired).toMatchObject({ status: 200, body: { changed: true, kind: 'alertmanager', changes: [{ scope: '*', old_mode: 'ENFORCE', new_mode: 'WARN' }],
      alerts: [{ alertname: 'EnforceGateUnknownRateHigh', action: 'demote' }] } });
    const [audit] = await db.sql`select reason from validation_mode_changes order by id desc limit 1`;
    expect(audit!.reason).toContain('Alertmanager alert EnforceGateUnknownRateHigh firing: unknown inputs above 0.5%');
    const resolved = await send(payload('resolved'));
    expect(resolved).toMatchObject({ status: 200, body: { changed: false, changes: [], alerts: [{ action: 'ignore' }] } });
    expect(await mode()).toBe('WARN');
    const other = await send(payload('firing', 'DiskFull'));
    expect(other).toMatchObject({ status: 200, body: { changed: false } });
  });
});

describe('handoff: mode_read and unknown inputs', () => {
  it('reports the cached mode next to the verdict\'s own, and counts an unknown handoff type', async () => {
    await seedDirective(db.sql, { id: 'SD-OPS-1', phase: 'EXEC' });
    const post = (body: unknown) => fetch(`${fns.functionsUrl}/handoff`, {
      method: 'POST', headers: { authorization: `Bearer ${fns.serviceRoleKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    });
    const ok = await post({ sd_id: 'SD-OPS-1', handoff_type: 'EXEC-TO-PLAN', session_id: 's1' });
    const body = await ok.json();
    expect(ok.status).toBe(200);
    expect(body).toMatchObject({ validation_mode: 'WARN', mode_read: { mode: 'WARN', source: 'database' } });
    const bad = await post({ sd_id: 'SD-OPS-1', handoff_type: 'EXEC-TO-MARS', session_id: 's1' });
    expect(bad.status).toBe(400);
    const [row] = await db.sql`select kind, input, source from unknown_inputs order by id desc limit 1`;
    expect(row).toEqual({ kind: 'handoff_type', input: 'EXEC-TO-MARS', source: 'handoff' });
  });
});

describe('misconfigured secrets', () => {
  it('logs one structured error at start and answers 503 WEBHOOK_NOT_CONFIGURED, never a stack trace', async () => {
    const short = `whsec_${Buffer.alloc(16, 9).toString('base64')}`;
    const bad = await startTestFunctions(db.url, { OPS_WEBHOOK_SECRETS: `${OLD},${short}` });
    try {
      const r = await send({ mode: 'OFF', reason: 'r' }, { url: `${bad.functionsUrl}/ops-webhook` });
      expect(r).toMatchObject({ status: 503, body: { error: { code: 'WEBHOOK_NOT_CONFIGURED' } } });
      expect(JSON.stringify(r.body)).not.toMatch(/at .*\.ts:\d+/);
      const line = await bad.logLine((l) => l.code === 'WEBHOOK_NOT_CONFIGURED');
      expect(line).toMatchObject({ level: 'error', details: ['secret #2 has 16 bytes, at least 32 are required'] });
      expect(bad.logs.join('\n')).not.toContain(short.slice(6));
      // The other functions of the runtime still serve.
      expect((await fetch(`${bad.functionsUrl}/health`, { headers: { authorization: `Bearer ${bad.serviceRoleKey}` } })).status).toBe(200);
      expect(await mode()).toBe('WARN');
    } finally {
      await bad.stop();
    }
  });
});
