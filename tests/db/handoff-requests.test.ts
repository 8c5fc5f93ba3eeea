// public.handoff_requests and its RPCs (supabase/schemas/13_requests.sql):
// NOTIFY on insert, claim with leases, what each answer means, and the hosted pg_net path against
// stand-ins for the parts of pg_net and Vault it uses.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAs, freshDatabase, type FreshDatabase } from '../helpers/db.ts';

let db: FreshDatabase;
beforeAll(async () => { db = await freshDatabase(); });
afterAll(async () => { await db?.drop(); });

interface Row { id: string; status: string; attempts: number; verdict: unknown; error: Record<string, unknown> | null; locked_until: Date | null; run_after: Date; locked_by: string | null; net_request_id: string | null }

const insert = async (sd = 'SD-REQ-1', type = 'EXEC-TO-PLAN') =>
  (await db.sql<Row[]>`insert into public.handoff_requests (sd_id, handoff_type, session_id) values (${sd}, ${type}, 's-req') returning *`)[0]!;
const row = async (id: string) => (await db.sql<Row[]>`select * from public.handoff_requests where id = ${id}`)[0]!;
const claim = (worker = 'w1', lease = '1 minute', limit = 10) =>
  db.sql<Row[]>`select * from public.fn_claim_handoff_request(${worker}, ${lease}::interval, ${limit}::int)`;
const finish = async (id: string, status: number | null, body: unknown) =>
  (await db.sql`select public.fn_finish_handoff_request(${id}::uuid, ${status}::int, ${db.sql.json(body as never)}) as r`)[0]!.r;
// Requests left pending by one test must not be claimed by the next.
const clear = () => db.sql`delete from public.handoff_requests`;

describe('local delivery: NOTIFY and claims', () => {
  it('notifies stagegate_handoff_request with the id of every inserted row', async () => {
    const heard: string[] = [];
    const listener = await db.sql.listen('stagegate_handoff_request', (id) => heard.push(id));
    const r = await insert();
    for (let i = 0; i < 50 && heard.length === 0; i++) await new Promise((res) => setTimeout(res, 20));
    await listener.unlisten();
    expect(heard).toEqual([r.id]);
    expect(r).toMatchObject({ status: 'pending', attempts: 0, locked_until: null });
    await clear();
  });

  it('gives each row to one worker at a time, and again once its lease expired', async () => {
    const rows = [await insert(), await insert(), await insert()];
    const [a, b] = await Promise.all([claim('w1', '1 minute', 2), claim('w2', '1 minute', 2)]);
    const ids = [...a!, ...b!].map((r) => r.id);
    expect(ids.sort()).toEqual(rows.map((r) => r.id).sort());
    expect(await claim('w3')).toEqual([]);
    const first = await row(rows[0]!.id);
    expect(first).toMatchObject({ status: 'running', attempts: 1 });
    expect(['w1', 'w2']).toContain(first.locked_by);

    await db.sql`update public.handoff_requests set locked_until = now() - interval '1 second' where id = ${rows[0]!.id}`;
    const again = await claim('w3');
    expect(again.map((r) => r.id)).toEqual([rows[0]!.id]);
    expect(again[0]).toMatchObject({ attempts: 2, locked_by: 'w3' });
    await clear();
  });

  it('refuses bad arguments and a change of what a request is', async () => {
    await expect(claim('', '1 minute')).rejects.toThrow(/INVALID_INPUT/);
    await expect(claim('w', '0 seconds')).rejects.toThrow(/INVALID_INPUT/);
    const r = await insert();
    await expect(db.sql`update public.handoff_requests set sd_id = 'SD-OTHER' where id = ${r.id}`).rejects.toThrow(/cannot change/);
    await expect(finish('00000000-0000-0000-0000-000000000000', 200, {})).rejects.toThrow(/no handoff request/);
    await clear();
  });
});

describe('fn_finish_handoff_request: what an answer means', () => {
  it('200 is done with the verdict; a second answer changes nothing', async () => {
    const r = await insert();
    await claim();
    expect(await finish(r.id, 200, { verdict: 'accepted', attempt_id: 'x' })).toMatchObject({ status: 'done', changed: true });
    expect(await finish(r.id, 500, { error: { code: 'INTERNAL' } })).toMatchObject({ status: 'done', changed: false });
    expect(await row(r.id)).toMatchObject({ status: 'done', verdict: { verdict: 'accepted' }, error: null, locked_until: null });
  });

  it('a refusal is an error with the code and message of the function', async () => {
    const r = await insert();
    await claim();
    await finish(r.id, 409, { error: { code: 'WRONG_PHASE', message: 'EXEC-TO-PLAN needs …', details: null } });
    expect(await row(r.id)).toMatchObject({ status: 'error', error: { http_status: 409, code: 'WRONG_PHASE', message: 'EXEC-TO-PLAN needs …' } });
  });

  it('no answer, 5xx and SD_BUSY retry with a backoff until max_attempts, then ATTEMPTS_EXHAUSTED', async () => {
    const r = (await db.sql<Row[]>`insert into public.handoff_requests (sd_id, handoff_type, session_id, max_attempts)
      values ('SD-REQ-2', 'EXEC-TO-PLAN', 's', 3) returning *`)[0]!;
    const answers: [number | null, unknown][] = [[null, { error: { code: 'NO_ANSWER', message: 'ECONNREFUSED' } }], [409, { error: { code: 'SD_BUSY' } }], [503, {}]];
    for (const [i, [status, body]] of answers.entries()) {
      await db.sql`update public.handoff_requests set run_after = now() where id = ${r.id}`;
      expect((await claim()).map((c) => c.id)).toEqual([r.id]);
      const out = await finish(r.id, status, body);
      const now = await row(r.id);
      if (i < 2) {
        expect(out).toMatchObject({ status: 'pending', attempts: i + 1 });
        // 1 s after the first try, 2 s after the second
        const wait = now.run_after.getTime() - Date.now();
        expect(wait).toBeGreaterThan((2 ** i) * 1000 - 300);
        expect(wait).toBeLessThanOrEqual((2 ** i) * 1000 + 50);
        expect(await claim()).toEqual([]);
      } else {
        expect(now).toMatchObject({ status: 'error', error: { code: 'ATTEMPTS_EXHAUSTED', http_status: 503, last_error: { code: 'HTTP_503' } } });
      }
    }
  });

  it('IDEMPOTENCY_IN_FLIGHT (an earlier try still running) does not use up a try', async () => {
    const r = (await db.sql<Row[]>`insert into public.handoff_requests (sd_id, handoff_type, session_id, max_attempts)
      values ('SD-REQ-3', 'EXEC-TO-PLAN', 's', 1) returning *`)[0]!;
    await claim();
    expect(await finish(r.id, 409, { error: { code: 'IDEMPOTENCY_IN_FLIGHT' } })).toMatchObject({ status: 'pending', attempts: 0 });
  });

  it('a running row out of tries whose worker died becomes ATTEMPTS_EXHAUSTED; fn_retry_handoff_request resets it', async () => {
    await clear();
    const r = (await db.sql<Row[]>`insert into public.handoff_requests (sd_id, handoff_type, session_id, max_attempts)
      values ('SD-REQ-4', 'EXEC-TO-PLAN', 's', 1) returning *`)[0]!;
    await claim();
    await db.sql`update public.handoff_requests set locked_until = now() - interval '1 second' where id = ${r.id}`;
    expect(await claim()).toEqual([]);
    const dead = await row(r.id);
    expect(dead).toMatchObject({ status: 'error', error: { code: 'ATTEMPTS_EXHAUSTED' } });
    expect(dead.error!.recovery_action).toContain(`fn_retry_handoff_request('${r.id}')`);
    const [retried] = await db.sql`select public.fn_retry_handoff_request(${r.id}) as r`;
    expect(retried!.r).toEqual({ id: r.id, status: 'pending' });
    expect((await claim()).map((c) => c.attempts)).toEqual([1]);
    await expect(db.sql`select public.fn_retry_handoff_request(${r.id})`).rejects.toThrow(/not in status error/);
    await clear();
  });

  it('is service_role only', async () => {
    const anon = connectAs(db.url, 'anon');
    const service = connectAs(db.url, 'service_role');
    try {
      await expect(anon`insert into public.handoff_requests (sd_id, handoff_type, session_id) values ('SD-X', 'EXEC-TO-PLAN', 's')`).rejects.toThrow(/permission denied/);
      await expect(anon`select * from public.fn_claim_handoff_request('w')`).rejects.toThrow(/permission denied/);
      const [r] = await service`insert into public.handoff_requests (sd_id, handoff_type, session_id) values ('SD-X', 'EXEC-TO-PLAN', 's') returning id`;
      const claimed = await service`select id from public.fn_claim_handoff_request('w')`;
      expect(claimed.map((c) => c.id)).toEqual([r!.id]);
      await expect(service`select public.fn_dispatch_handoff_request(${r!.id})`).rejects.toThrow(/permission denied/);
    } finally {
      await anon.end();
      await service.end();
      await clear();
    }
  });
});

describe('hosted delivery through pg_net', () => {
  beforeAll(async () => {
    // The parts of pg_net and Vault the migration calls, with their signatures.
    await db.sql.unsafe(`
      create schema net;
      create table net.http_request_queue (id bigserial primary key, url text, body jsonb, headers jsonb, timeout_milliseconds int);
      create table net._http_response (id bigint, status_code int, content text, timed_out boolean, error_msg text);
      create function net.http_post(url text, body jsonb default '{}', params jsonb default '{}', headers jsonb default '{}', timeout_milliseconds int default 5000)
      returns bigint language sql as $$
        insert into net.http_request_queue (url, body, headers, timeout_milliseconds) values (url, body, headers, timeout_milliseconds) returning id $$;
      create schema vault;
      create table vault.decrypted_secrets (name text primary key, decrypted_secret text);`);
  });
  afterAll(async () => {
    await db.sql`delete from public.handoff_request_dispatch`;
    await db.sql.unsafe('drop schema net cascade; drop schema vault cascade');
  });

  it('without a dispatch row, pg_net or not, rows stay for the LISTEN consumer', async () => {
    const r = await insert('SD-NET-0');
    expect(r.status).toBe('pending');
    expect((await db.sql`select count(*)::int as n from net.http_request_queue`)[0]!.n).toBe(0);
    await clear();
  });

  it('refuses to insert while the Vault secret is missing', async () => {
    await db.sql`insert into public.handoff_request_dispatch (functions_url) values ('https://abc.supabase.co/functions/v1')`;
    await expect(insert('SD-NET-1')).rejects.toThrow(/DISPATCH_NOT_CONFIGURED: Vault secret 'stagegate_service_role_key'/);
  });

  it('posts the request with the service key and the row\'s Idempotency-Key, then reads the answer back', async () => {
    await db.sql`insert into vault.decrypted_secrets values ('stagegate_service_role_key', 'service-key-123')`;
    const r = await insert('SD-NET-2');
    const now = await row(r.id);
    expect(now).toMatchObject({ status: 'running', attempts: 1, locked_by: 'pg_net' });
    const [sent] = await db.sql`select * from net.http_request_queue where id = ${now.net_request_id}`;
    expect(sent).toMatchObject({
      url: 'https://abc.supabase.co/functions/v1/handoff',
      body: { sd_id: 'SD-NET-2', handoff_type: 'EXEC-TO-PLAN', session_id: 's-req' },
      headers: { Authorization: 'Bearer service-key-123', 'Idempotency-Key': `handoff-request:${r.id}`, 'Content-Type': 'application/json' },
      timeout_milliseconds: 120000,
    });
    const sweep = async () => (await db.sql`select public.fn_sweep_handoff_responses() as r`)[0]!.r;
    expect(await sweep()).toEqual({ pg_net: true, answers_read: 0, dispatched: 0 });

    // a timeout: pending again, re-posted by the sweep once due, under the same key
    await db.sql`insert into net._http_response values (${now.net_request_id}, null, null, true, 'Timeout of 120000 ms reached')`;
    expect(await sweep()).toMatchObject({ answers_read: 1, dispatched: 0 });
    expect(await row(r.id)).toMatchObject({ status: 'pending', error: { code: 'NO_ANSWER', message: 'Timeout of 120000 ms reached' } });
    await db.sql`update public.handoff_requests set run_after = now() where id = ${r.id}`;
    expect(await sweep()).toMatchObject({ answers_read: 0, dispatched: 1 });
    const second = await row(r.id);
    expect(second).toMatchObject({ status: 'running', attempts: 2 });
    const [resent] = await db.sql`select headers from net.http_request_queue where id = ${second.net_request_id}`;
    expect(resent!.headers['Idempotency-Key']).toBe(`handoff-request:${r.id}`);

    await db.sql`insert into net._http_response values (${second.net_request_id}, 200, '{"verdict":"accepted","replay":true}', false, null)`;
    expect(await sweep()).toMatchObject({ answers_read: 1 });
    expect(await row(r.id)).toMatchObject({ status: 'done', verdict: { verdict: 'accepted', replay: true } });
  });

  it('a request whose answers keep getting lost stops at max_attempts (ATTEMPTS_EXHAUSTED), not re-posted for ever', async () => {
    const r = await insert('SD-NET-4');
    const sent = (await row(r.id)).net_request_id;
    // its last try's lease ran out with no answer from pg_net
    await db.sql`update public.handoff_requests set attempts = max_attempts, locked_until = now() - interval '1 second' where id = ${r.id}`;
    const [swept] = await db.sql`select public.fn_sweep_handoff_responses() as r`;
    expect(swept!.r).toMatchObject({ dispatched: 0 });
    expect(await row(r.id)).toMatchObject({ status: 'error', net_request_id: sent, error: { code: 'ATTEMPTS_EXHAUSTED' } });
  });

  it('a non-JSON answer (a gateway error page) is kept readable', async () => {
    const r = await insert('SD-NET-3');
    const { net_request_id: netId } = await row(r.id);
    await db.sql`insert into net._http_response values (${netId}, 404, '<html>not found</html>', false, null)`;
    await db.sql`select public.fn_sweep_handoff_responses()`;
    expect(await row(r.id)).toMatchObject({ status: 'error', error: { http_status: 404, code: 'NOT_JSON', message: '<html>not found</html>' } });
  });
});
