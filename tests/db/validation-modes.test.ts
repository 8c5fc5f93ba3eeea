// fn_set_validation_mode is the only writer of validation_modes; every change is audited (actor,
// reason, forced, gate numbers), notified on stagegate_mode; demotion; webhook-id claims; grants.
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAs, freshDatabase, type FreshDatabase } from '../helpers/db.ts';

let db: FreshDatabase;
beforeAll(async () => { db = await freshDatabase(); });
afterAll(async () => { await db?.drop(); });

const USER = '6f1c1a52-3c6b-4a3e-9c1e-2f0f7f0b1a01';
const NEW_RPCS = [
  `fn_set_validation_mode('*', 'WARN', 'r')`,
  `fn_demote_validation_mode('*', 'r')`,
  `fn_promotion_gate('*')`,
  `fn_record_unknown_input('handoff_type', 'x')`,
  `fn_claim_webhook_id('msg_1', now())`,
  `fn_purge_webhook_ids()`,
];

async function as(role: string, statement: string): Promise<string> {
  try {
    await db.sql.begin(async (tx) => {
      await tx.unsafe(`set local role ${role}`);
      await tx.unsafe(statement);
      throw new Error('rollback');
    });
  } catch (e) {
    const code = (e as { code?: string }).code;
    return code ?? 'ok';
  }
  return 'ok';
}

describe('grants', () => {
  it('refuses anon and authenticated on every new RPC, and lets service_role call them', async () => {
    for (const rpc of NEW_RPCS) {
      expect({ rpc, anon: await as('anon', `select ${rpc}`) }).toEqual({ rpc, anon: '42501' });
      expect({ rpc, authenticated: await as('authenticated', `select ${rpc}`) }).toEqual({ rpc, authenticated: '42501' });
      expect({ rpc, service_role: await as('service_role', `select ${rpc}`) }).toEqual({ rpc, service_role: 'ok' });
    }
  });

  it('lets nobody but the RPC write validation_modes, and keeps the new tables from anon', async () => {
    expect(await as('service_role', `update validation_modes set mode = 'OFF' where scope = '*'`)).toBe('42501');
    expect(await as('service_role', `insert into validation_modes (scope, mode) values ('docs', 'OFF')`)).toBe('42501');
    expect(await as('service_role', `insert into validation_mode_changes (scope, operation, actor, reason, via) values ('*', 'UPDATE', 'x', 'x', 'x')`)).toBe('42501');
    for (const t of ['validation_mode_changes', 'validation_mode_settings', 'unknown_inputs', 'ops_webhook_ids']) {
      expect({ t, anon: await as('anon', `select * from ${t}`) }).toEqual({ t, anon: '42501' });
      expect({ t, service_role: await as('service_role', `select * from ${t}`) }).toEqual({ t, service_role: 'ok' });
    }
    const [rls] = await db.sql`select bool_and(relrowsecurity) as on from pg_class
      where relnamespace = 'public'::regnamespace and relname in ('validation_mode_changes', 'validation_mode_settings', 'unknown_inputs', 'ops_webhook_ids')`;
    expect(rls!.on).toBe(true);
  });

  it('makes the new RPCs security definer with an empty search_path and a comment', async () => {
    const rows = await db.sql`select p.proname, p.prosecdef, p.proconfig, length(obj_description(p.oid, 'pg_proc')) > 20 as commented
      from pg_proc p where p.pronamespace = 'public'::regnamespace and p.proname = any(${NEW_RPCS.map((r) => r.slice(0, r.indexOf('(')))})`;
    expect(rows).toHaveLength(NEW_RPCS.length);
    for (const r of rows) expect(r).toMatchObject({ prosecdef: true, proconfig: ['search_path=""'], commented: true });
  });
});

describe('fn_set_validation_mode', () => {
  it('audits every change with actor, uid, reason and gate numbers, and notifies stagegate_mode', async () => {
    const notes: string[] = [];
    const listener = await db.sql.listen('stagegate_mode', (payload) => { notes.push(payload); });
    const service = connectAs(db.url, 'service_role', { sub: USER });
    try {
      const [r] = await service`select fn_set_validation_mode('*', 'warn', '  canary for release 42 ', false) as r`;
      expect(r!.r).toMatchObject({ changed: true, scope: '*', old_mode: 'ENFORCE', new_mode: 'WARN', forced: false, actor: 'service_role' });
      const [audit] = await db.sql`select scope, operation, old_mode, new_mode, actor, actor_uid, reason, forced, via, gate ? 'would_reject_rate' as has_gate, at is not null as stamped
        from validation_mode_changes where id = ${r!.r.change_id}`;
      expect(audit).toEqual({ scope: '*', operation: 'UPDATE', old_mode: 'ENFORCE', new_mode: 'WARN', actor: 'service_role', actor_uid: USER,
        reason: 'canary for release 42', forced: false, via: 'fn_set_validation_mode', has_gate: true, stamped: true });
      // An override for an sd_type: the old mode is the inherited global one.
      const [o] = await service`select fn_set_validation_mode('docs', 'OFF', 'docs never block') as r`;
      expect(o!.r).toMatchObject({ changed: true, scope: 'docs', old_mode: 'WARN', new_mode: 'OFF' });
      expect((await db.sql`select fn_get_validation_mode('docs') as m`)[0]!.m).toBe('OFF');
      await new Promise((resolve) => setTimeout(resolve, 100));
      const parsed = notes.map((n) => JSON.parse(n));
      expect(parsed).toEqual([
        expect.objectContaining({ scope: '*', old_mode: 'ENFORCE', new_mode: 'WARN', actor: 'service_role', reason: 'canary for release 42', forced: false }),
        expect.objectContaining({ scope: 'docs', old_mode: 'WARN', new_mode: 'OFF', reason: 'docs never block' }),
      ]);
    } finally {
      await listener.unlisten();
      await service.end();
    }
  });

  it('writes one structured JSON LOG line per change', async () => {
    const notices: { severity?: string; message?: string }[] = [];
    const sql = postgres(db.url, { max: 1, onnotice: (n) => { notices.push(n); } });
    try {
      await sql`set client_min_messages to log`;
      await sql`select fn_set_validation_mode('qa', 'WARN', 'log me')`;
      await sql`delete from validation_modes where scope = 'qa'`;
      const lines = notices.filter((n) => n.severity === 'LOG').map((n) => JSON.parse(n.message ?? '{}'));
      expect(lines).toHaveLength(2); // the change, and the superuser's direct delete
      expect(lines.slice(0, 1)).toEqual([expect.objectContaining({
        msg: 'validation mode changed', scope: 'qa', old_mode: 'WARN', new_mode: 'WARN', actor: 'postgres', reason: 'log me', forced: false,
        timestamp: expect.any(String),
      })]);
    } finally {
      await sql.end();
    }
  });

  it('answers changed=false for the mode already set, without an audit row', async () => {
    const [{ n: before }] = await db.sql`select count(*)::int as n from validation_mode_changes` as unknown as [{ n: number }];
    const [r] = await db.sql`select fn_set_validation_mode('docs', 'OFF', 'again') as r`;
    expect(r!.r).toMatchObject({ changed: false, change_id: null });
    expect((await db.sql`select count(*)::int as n from validation_mode_changes`)[0]!.n).toBe(before);
  });

  it('refuses a bad scope, mode or reason with INVALID_INPUT', async () => {
    for (const [scope, mode, reason, what] of [['Docs!', 'OFF', 'r', 'scope'], ['*', 'STRICT', 'r', 'mode'], ['*', 'OFF', '', 'reason'], ['*', 'OFF', 'x'.repeat(501), 'reason']]) {
      await expect(db.sql`select fn_set_validation_mode(${scope!}, ${mode!}, ${reason!})`).rejects
        .toMatchObject({ code: 'SG001', message: expect.stringMatching(new RegExp(`^INVALID_INPUT: .*${what}`)) });
    }
  });

  it('still audits a superuser writing the table directly, marked as such', async () => {
    await db.sql`update validation_modes set mode = 'ENFORCE' where scope = 'docs'`;
    const [row] = await db.sql`select old_mode, new_mode, reason, via from validation_mode_changes order by id desc limit 1`;
    expect(row).toEqual({ old_mode: 'OFF', new_mode: 'ENFORCE', reason: 'direct write outside fn_set_validation_mode (no promotion gate)', via: 'direct write' });
    await db.sql`delete from validation_modes where scope = 'docs'`;
    const [del] = await db.sql`select operation, old_mode, new_mode from validation_mode_changes order by id desc limit 1`;
    expect(del).toEqual({ operation: 'DELETE', old_mode: 'ENFORCE', new_mode: 'WARN' });
  });
});

describe('fn_demote_validation_mode', () => {
  it("moves the global mode and every enforcing override to WARN, and leaves the rest alone", async () => {
    await db.sql`select fn_set_validation_mode('*', 'ENFORCE', 'setup', true)`;
    await db.sql`select fn_set_validation_mode('security', 'ENFORCE', 'setup', true)`;
    await db.sql`select fn_set_validation_mode('docs', 'OFF', 'setup')`;
    const [r] = await db.sql`select fn_demote_validation_mode('*', 'alert X firing') as r`;
    expect(r!.r.changed).toBe(true);
    expect(r!.r.changes.map((c: { scope: string; old_mode: string; new_mode: string }) => [c.scope, c.old_mode, c.new_mode]))
      .toEqual([['*', 'ENFORCE', 'WARN'], ['security', 'ENFORCE', 'WARN']]);
    const modes = await db.sql`select scope, mode from validation_modes order by scope`;
    expect(modes).toEqual([{ scope: '*', mode: 'WARN' }, { scope: 'docs', mode: 'OFF' }, { scope: 'security', mode: 'WARN' }]);
    const [again] = await db.sql`select fn_demote_validation_mode('*', 'still firing') as r`;
    expect(again!.r).toEqual({ changed: false, changes: [] });
  });

  it('demotes one sd_type through a new override when it inherits ENFORCE', async () => {
    await db.sql`select fn_set_validation_mode('*', 'ENFORCE', 'setup', true)`;
    const [r] = await db.sql`select fn_demote_validation_mode('feature', 'alert for feature') as r`;
    expect(r!.r.changes).toEqual([expect.objectContaining({ scope: 'feature', old_mode: 'ENFORCE', new_mode: 'WARN' })]);
    expect((await db.sql`select fn_get_validation_mode('*') as m`)[0]!.m).toBe('ENFORCE');
  });
});

describe('fn_record_unknown_input', () => {
  it('refuses a missing kind with INVALID_INPUT (not a not-null violation)', async () => {
    await expect(db.sql`select fn_record_unknown_input(${null}, ${'x'}, ${null}, ${'handoff'}, ${null}, ${null}, ${false})`)
      .rejects.toMatchObject({ code: 'SG001', message: expect.stringMatching(/^INVALID_INPUT: p_kind/) });
  });
});

describe('webhook ids', () => {
  it('claims an id once, and purges only ids a replay could no longer use', async () => {
    const claim = async (id: string, ts: string) => (await db.sql`select fn_claim_webhook_id(${id}, now() - ${ts}::interval) as c`)[0]!.c;
    expect(await claim('msg_a', '0 s')).toBe(true);
    expect(await claim('msg_a', '0 s')).toBe(false);
    // a timestamp outside the tolerance is refused, so no id is forgotten while a replay could still count
    await expect(claim('msg_stale', '6 minutes')).rejects.toMatchObject({ code: 'SG001' });
    await db.sql`insert into ops_webhook_ids (id, webhook_ts) values ('msg_old', now() - interval '7 minutes')`;
    await expect(db.sql`select fn_claim_webhook_id(${'bad id\n'}, now())`).rejects.toMatchObject({ code: 'SG001' });
    expect((await db.sql`select fn_purge_webhook_ids() as n`)[0]!.n).toBe(1);
    expect((await db.sql`select array_agg(id order by id) as ids from ops_webhook_ids`)[0]!.ids).toEqual(['msg_a']);
  });
});
