// deno-lint-ignore-file no-explicit-any -- JSON answers from SQL are inspected loosely here
// The approval webhooks on hosted Supabase: the 'approval_webhooks' sweep posts to the
// `approval-webhooks` function through pg_net while deliveries are due, and the function (served by
// the real Deno runtime) signs and delivers the events. There is no pg_net here: the stand-in
// net.http_post and Vault have their signatures and queue what they are asked to post, and this
// test plays pg_net's worker by sending the queued request to the function as it stands.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWebhookSecret } from '../../stack/agent-server.ts';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { startTestFunctions, type TestFunctions } from '../helpers/functions.ts';
import { approvalGate, seedApprovers } from '../helpers/approvals.ts';
import { asUser, intoTeam, seedPeople, TEAM_ALPHA } from '../helpers/people.ts';
import { execute, seedSd } from '../db/_handoff-fixtures.ts';

let db: FreshDatabase;
let fns: TestFunctions;
let receiver: http.Server;
const received: { headers: http.IncomingHttpHeaders; body: string }[] = [];
const secret = generateWebhookSecret();

beforeAll(async () => {
  db = await freshDatabase();
  await seedPeople(db.sql);
  await seedApprovers(db.sql);
  await approvalGate(db.sql, { required: 1 });
  receiver = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => { received.push({ headers: req.headers, body }); res.writeHead(204).end(); });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/approvals`;
  fns = await startTestFunctions(db.url, { STAGEGATE_APPROVAL_WEBHOOK_URL: url, STAGEGATE_APPROVAL_WEBHOOK_SECRET: secret });
}, 60_000);
afterAll(async () => {
  await fns?.stop();
  await new Promise((r) => receiver.close(r));
  await db.drop();
});

const sweep = async () => (await db.sql`select public.fn_run_sweep('approval_webhooks') as r`)[0]!.r as { ok: boolean; result: Record<string, unknown>; error: string | null };
const queued = () => db.sql<{ id: number; url: string; body: unknown; headers: Record<string, string>; timeout_milliseconds: number }[]>`
  select * from net.http_request_queue order by id`;

describe('approval webhooks on hosted Supabase', () => {
  it('does nothing without pg_net, then nothing until turned on or while nothing is due', async () => {
    expect((await sweep()).result).toEqual({ pg_net: false });
    await db.sql.unsafe(`
      create schema net;
      create table net.http_request_queue (id bigserial primary key, url text, body jsonb, headers jsonb, timeout_milliseconds int);
      create function net.http_post(url text, body jsonb default '{}', params jsonb default '{}', headers jsonb default '{}', timeout_milliseconds int default 5000)
      returns bigint language sql as $$
        insert into net.http_request_queue (url, body, headers, timeout_milliseconds) values (url, body, headers, timeout_milliseconds) returning id $$;
      create schema vault;
      create table vault.decrypted_secrets (name text primary key, decrypted_secret text);`);
    expect((await sweep()).result).toEqual({ pg_net: true, enabled: false, posted: false });
    // handoff requests dispatched with pg_net, approval webhooks not asked for
    await db.sql`insert into public.handoff_request_dispatch (functions_url) values (${fns.functionsUrl})`;
    expect((await sweep()).result).toEqual({ pg_net: true, enabled: false, posted: false });
    await db.sql`update public.handoff_request_dispatch set approval_webhooks = true`;
    expect((await sweep()).result).toEqual({ pg_net: true, enabled: true, posted: false });
    expect(await queued()).toEqual([]);
  });

  it('kicks the function while a delivery is due, and the function signs and delivers the event', async () => {
    await seedSd(db.sql, { id: 'SD-HOSTED-HOOK', phase: 'LEAD', stories: [{ key: 'US-1', status: 'done' }] });
    await intoTeam(db.sql, TEAM_ALPHA, 'SD-HOSTED-HOOK');
    const lead = asUser(db.url, 'lead');
    const waiting = await execute(lead, 'SD-HOSTED-HOOK', 'LEAD-TO-PLAN', 'req-hosted-hook', [], 'sess-hosted-hook');
    await lead.end({ timeout: 1 });
    expect(waiting.verdict).toBe('awaiting_approval');

    // the Vault secret is missing: the sweep says so, and posts nothing
    const missing = await sweep();
    expect(missing).toMatchObject({ ok: false, error: expect.stringContaining('DISPATCH_NOT_CONFIGURED') });
    await db.sql`insert into vault.decrypted_secrets values ('stagegate_service_role_key', ${fns.serviceRoleKey})`;

    const kicked = await sweep();
    expect(kicked).toMatchObject({ ok: true, result: { pg_net: true, enabled: true, posted: true } });
    const [request] = await queued();
    expect(request).toMatchObject({
      url: `${fns.functionsUrl}/approval-webhooks`, body: {}, timeout_milliseconds: 30000,
      headers: { Authorization: `Bearer ${fns.serviceRoleKey}`, 'Content-Type': 'application/json' },
    });

    // pg_net's worker: the queued POST, as it stands
    const answer = await fetch(request!.url, { method: 'POST', headers: request!.headers, body: JSON.stringify(request!.body) });
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ claimed: 1, delivered: 1, retrying: 0, dead: 0 });

    expect(received).toHaveLength(1);
    const payload = new Webhook(secret).verify(received[0]!.body, received[0]!.headers as Record<string, string>) as Record<string, any>;
    expect(payload).toMatchObject({ event: 'approval_requested', attempt_id: waiting.attempt_id, sd_id: 'SD-HOSTED-HOOK' });
    expect(received[0]!.headers['webhook-id']).toBe(`approval-event-${payload.event_id}`);
    const [delivery] = await db.sql`select status, attempts, last_status from public.approval_webhook_deliveries`;
    expect(delivery).toEqual({ status: 'delivered', attempts: 1, last_status: 204 });

    // delivered: the next sweep has nothing to kick the function for
    expect((await sweep()).result).toEqual({ pg_net: true, enabled: true, posted: false });
    expect(await queued()).toHaveLength(1);

    // an event older than a day that was never sent (webhooks switched on late) is not announced:
    // the handoff expires, and its event is backdated past the window
    await db.sql`update public.handoff_attempts set approval_deadline = now() - interval '1 second' where id = ${waiting.attempt_id}`;
    await db.sql`select public.fn_sweep_expired_approvals()`;
    const [late] = await db.sql`update public.approval_events set created_at = now() - interval '25 hours'
      where event = 'approval_expired' and attempt_id = ${waiting.attempt_id} returning id`;
    expect(late).toBeDefined();
    expect((await sweep()).result).toEqual({ pg_net: true, enabled: true, posted: false });
    const [claimed] = await db.sql`select public.fn_claim_approval_webhooks(50, 15) as r`;
    expect(claimed!.r).toEqual([]);
    // within the day it is
    await db.sql`update public.approval_events set created_at = now() - interval '23 hours' where id = ${late!.id}`;
    expect((await sweep()).result).toMatchObject({ posted: true });
  });

  it('refuses every caller but the service role, and says when its secrets are not set', async () => {
    const pass = (headers: Record<string, string>, method = 'POST', base = fns.functionsUrl) =>
      fetch(`${base}/approval-webhooks`, { method, headers }).then(async (r) => ({ status: r.status, body: await r.json() as any }));
    expect(await pass({})).toMatchObject({ status: 401 });
    expect(await pass({ authorization: `Bearer ${fns.anonKey}` })).toMatchObject({ status: 403, body: { error: { code: 'FORBIDDEN' } } });
    expect(await pass({ authorization: `Bearer ${fns.serviceRoleKey}` }, 'GET')).toMatchObject({ status: 405, body: { error: { code: 'METHOD_NOT_ALLOWED' } } });

    const bare = await startTestFunctions(db.url);
    try {
      expect(await pass({ authorization: `Bearer ${bare.serviceRoleKey}` }, 'POST', bare.functionsUrl))
        .toMatchObject({ status: 503, body: { error: { code: 'WEBHOOK_NOT_CONFIGURED' } } });
    } finally {
      await bare.stop();
    }
    // nothing claimed by the refused calls (the expiry above is due, not yet registered)
    expect(await db.sql`select status, count(*)::int as n from public.approval_webhook_deliveries group by 1 order by 1`)
      .toEqual([{ status: 'delivered', n: 1 }]);
  });
});
