// fn_promotion_gate and the gate inside fn_set_validation_mode: a move to ENFORCE is refused while
// the would-reject or unknown-input rate over the canary window is above 0.5%, or too few handoffs
// were judged; a forced promotion needs a reason and is audited forced = true.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type postgres from 'postgres';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';

let db: FreshDatabase;
let batch = 0;
beforeAll(async () => { db = await freshDatabase(); });
afterAll(async () => { await db?.drop(); });

/** n judged handoffs of an sd_type, `below` of them under the threshold, `ago` before now. */
async function judged(sql: postgres.Sql, n: number, below: number, o: { sdType?: string; ago?: string; mode?: string } = {}) {
  const tag = `b${++batch}`;
  await sql`
    with a as (
      insert into handoff_attempts (request_id, sd_id, sd_uuid, sd_type, handoff_type, session_id, status,
                                    from_phase, to_phase, sd_version, context, gates, started_at, finished_at)
      select ${tag} || '-' || g, 'SD-GATE-' || g, gen_random_uuid(), ${o.sdType ?? 'feature'}, 'EXEC-TO-PLAN', 's', 'completed',
             'EXEC', 'EXEC_COMPLETE', 0, '{}', '[]', now() - ${o.ago ?? '1 minute'}::interval, now() - ${o.ago ?? '1 minute'}::interval
      from generate_series(1, ${n}::int) g
      returning id, sd_id, sd_uuid, request_id
    ), numbered as (select a.*, row_number() over (order by a.request_id) as k from a)
    insert into sd_transition_audit (sd_id, sd_uuid, transition_type, request_id, attempt_id, status, validation_mode,
                                     score, threshold, would_reject, created_at, completed_at)
    select x.sd_id, x.sd_uuid, 'EXEC-TO-PLAN', x.request_id, x.id, 'completed', ${o.mode ?? 'WARN'},
           case when x.k <= ${below}::int then 80 else 95 end, 85,
           ${o.mode ?? 'WARN'} = 'WARN' and x.k <= ${below}::int,
           now() - ${o.ago ?? '1 minute'}::interval, now() - ${o.ago ?? '1 minute'}::interval
    from numbered x`;
}

async function unknown(sql: postgres.Sql, n: number) {
  await sql`insert into unknown_inputs (kind, input) select 'handoff_type', 'EXEC-TO-NOWHERE-' || g from generate_series(1, ${n}::int) g`;
}

async function setMode(scope: string, mode: string, reason = 'test', force = false) {
  const [row] = await db.sql`select fn_set_validation_mode(${scope}, ${mode}, ${reason}, ${force}) as r`;
  return row!.r as Record<string, unknown> & { gate: Record<string, unknown> };
}

async function refusal(scope: string, mode = 'ENFORCE'): Promise<{ code?: string; message: string; detail: Record<string, unknown> }> {
  try {
    await setMode(scope, mode, 'promote');
  } catch (e) {
    const err = e as { code?: string; message: string; detail?: string };
    return { code: err.code, message: err.message, detail: JSON.parse(err.detail ?? '{}') };
  }
  throw new Error('promotion was not refused');
}

const modeOf = async (scope: string) => (await db.sql`select fn_get_validation_mode(${scope}) as m`)[0]!.m as string;

beforeEach(async () => {
  await db.sql`delete from sd_transition_audit`;
  await db.sql`delete from handoff_attempts`;
  await db.sql`delete from unknown_inputs`;
  await db.sql`delete from validation_modes where scope <> '*'`;
  await setMode('*', 'WARN', 'canary starts');
});

describe('would-reject rate', () => {
  it('refuses WARN -> ENFORCE at 0.6% (6 of 1000) and names the rate, the count and the window', async () => {
    await judged(db.sql, 1000, 6);
    const before = await db.sql`select count(*)::int as n from validation_mode_changes`;
    const r = await refusal('*');
    expect(r.code).toBe('SG015');
    expect(r.message).toMatch(/^PROMOTION_BLOCKED: WARN -> ENFORCE for scope '\*' refused: would-reject rate 0\.6% \(6 of 1000 handoffs\) is above 0\.5% over the last 30 minutes/);
    expect(r.detail).toMatchObject({ ok: false, handoffs: 1000, would_reject: 6, would_reject_rate: 0.006, window_seconds: 1800 });
    expect(await modeOf('*')).toBe('WARN');
    expect((await db.sql`select count(*)::int as n from validation_mode_changes`)[0]!.n).toBe(before[0]!.n);
  });

  it('allows it at 0.4% (4 of 1000), and at exactly 0.5%', async () => {
    await judged(db.sql, 1000, 4);
    const r = await setMode('*', 'ENFORCE', 'canary green for 30 minutes');
    expect(r).toMatchObject({ changed: true, old_mode: 'WARN', new_mode: 'ENFORCE', forced: false });
    expect(r.gate).toMatchObject({ ok: true, handoffs: 1000, would_reject: 4, would_reject_rate: 0.004 });
    await setMode('*', 'WARN', 'back');
    await judged(db.sql, 1000, 6); // 10 of 2000 = 0.5%: not above
    expect(await setMode('*', 'ENFORCE', 'boundary')).toMatchObject({ changed: true, gate: { would_reject: 10, handoffs: 2000 } });
  });

  it('counts below-threshold handoffs judged in OFF or ENFORCE too, and only inside the window', async () => {
    await judged(db.sql, 1000, 6, { mode: 'OFF' });
    expect((await refusal('*')).detail).toMatchObject({ would_reject: 6 });
    await db.sql`delete from sd_transition_audit`;
    await judged(db.sql, 1000, 0);
    await judged(db.sql, 500, 500, { ago: '31 minutes' });
    expect(await setMode('*', 'ENFORCE', 'old failures are outside the window')).toMatchObject({ changed: true, gate: { handoffs: 1000, would_reject: 0 } });
  });

  it('judges a per-sd_type scope by its own handoffs', async () => {
    await judged(db.sql, 100, 0, { sdType: 'security' });
    await judged(db.sql, 1000, 50, { sdType: 'feature' });
    expect(await setMode('security', 'ENFORCE', 'security is clean')).toMatchObject({ changed: true, gate: { scope: 'security', handoffs: 100, would_reject: 0 } });
    expect((await refusal('feature')).message).toContain('would-reject rate 5% (50 of 1000 handoffs)');
  });

  it('gates OFF -> ENFORCE as well, but never a demotion', async () => {
    await judged(db.sql, 1000, 100);
    await setMode('*', 'OFF', 'incident');
    expect((await refusal('*')).message).toMatch(/^PROMOTION_BLOCKED: OFF -> ENFORCE/);
    await setMode('*', 'ENFORCE', 'forced for the test', true);
    expect(await setMode('*', 'WARN', 'demotions need no gate')).toMatchObject({ changed: true, new_mode: 'WARN' });
  });
});

describe('unknown-input rate', () => {
  it('refuses at 6 unknown inputs per 1000 handoffs and allows at 4', async () => {
    await judged(db.sql, 1000, 0);
    await unknown(db.sql, 6);
    const r = await refusal('*');
    expect(r.message).toContain('unknown-input rate 0.6% (6 of 1006 requests) is above 0.5%');
    expect(r.detail).toMatchObject({ unknown_inputs: 6, requests: 1006 });
    await db.sql`delete from unknown_inputs where id in (select id from unknown_inputs limit 2)`;
    expect(await setMode('*', 'ENFORCE', 'unknown inputs fixed')).toMatchObject({ changed: true, gate: { unknown_inputs: 4, ok: true } });
  });

  it('fn_record_unknown_input counts a request the handoff function could not normalise', async () => {
    await db.sql`select fn_record_unknown_input('handoff_type', 'EXEC-TO-MARS', null, 'handoff')`;
    const [gate] = await db.sql`select fn_promotion_gate('*') as g`;
    expect(gate!.g).toMatchObject({ unknown_inputs: 1, requests: 1, unknown_rate: 1 });
  });
});

describe('too few handoffs', () => {
  it('refuses with 19 judged handoffs (minimum 20) and allows with 20', async () => {
    await judged(db.sql, 19, 0);
    const r = await refusal('*');
    expect(r.message).toContain('only 19 handoffs judged in the last 30 minutes (at least 20 needed to judge)');
    expect(r.detail).toMatchObject({ handoffs: 19, min_handoffs: 20 });
    await judged(db.sql, 1, 0);
    expect(await setMode('*', 'ENFORCE', 'enough traffic')).toMatchObject({ changed: true });
  });

  it('reads the window and the limits from validation_mode_settings', async () => {
    await judged(db.sql, 5, 0, { ago: '20 minutes' });
    await db.sql`update validation_mode_settings set min_handoffs = 5, canary_window = '10 minutes'`;
    try {
      expect((await refusal('*')).message).toContain('only 0 handoffs judged in the last 10 minutes (at least 5 needed');
      await db.sql`update validation_mode_settings set canary_window = '30 minutes'`;
      expect(await setMode('*', 'ENFORCE', 'five is enough now')).toMatchObject({ changed: true });
    } finally {
      await db.sql`update validation_mode_settings set min_handoffs = 20, canary_window = '30 minutes'`;
    }
  });
});

describe('forced promotion', () => {
  it('overrides a refusal with a reason and is audited forced = true with the numbers that refused it', async () => {
    await judged(db.sql, 1000, 6);
    const r = await setMode('*', 'ENFORCE', 'incident commander: enforce now', true);
    expect(r).toMatchObject({ changed: true, forced: true, old_mode: 'WARN', new_mode: 'ENFORCE', gate: { ok: false, would_reject: 6 } });
    const [audit] = await db.sql`select old_mode, new_mode, reason, forced, via, gate->>'ok' as ok, (gate->>'would_reject')::int as wr
      from validation_mode_changes where id = ${r.change_id as number}`;
    expect(audit).toEqual({ old_mode: 'WARN', new_mode: 'ENFORCE', reason: 'incident commander: enforce now', forced: true, via: 'fn_set_validation_mode', ok: 'false', wr: 6 });
  });

  it('needs a non-empty reason', async () => {
    await judged(db.sql, 1000, 6);
    await expect(setMode('*', 'ENFORCE', '   ', true)).rejects.toMatchObject({ code: 'SG001', message: expect.stringContaining('reason') });
    expect(await modeOf('*')).toBe('WARN');
  });

  it('is not marked forced when the gate would have allowed it anyway', async () => {
    await judged(db.sql, 1000, 0);
    expect(await setMode('*', 'ENFORCE', 'belt and braces', true)).toMatchObject({ changed: true, forced: false });
  });
});

describe('unknown inputs are signals per caller and window (issue #15)', () => {
  const recordAs = async (caller: string | null, sdId: string | null, requireSd = false) => {
    const [row] = await db.sql<{ r: boolean }[]>`select fn_record_unknown_input('handoff_type', 'RT-BOGUS', null, 'handoff', ${caller}, ${sdId}, ${requireSd}) as r`;
    return row!.r;
  };

  it('counts one caller\'s flood as one row, each caller once, and nothing for a missing directive', async () => {
    await db.sql`delete from unknown_inputs`;
    await db.sql`insert into strategic_directives_v2 (id, title, sd_type, current_phase) values ('SD-UNK-1', 'x', 'security', 'LEAD') on conflict do nothing`;
    const flood = [];
    for (let i = 0; i < 50; i++) flood.push(await recordAs('authenticated:mallory', 'SD-UNK-1', true));
    expect(flood.filter(Boolean)).toHaveLength(1);
    expect(await recordAs('authenticated:alice', 'SD-UNK-1', true)).toBe(true);
    expect(await recordAs('authenticated:mallory', 'SD-NOPE', true)).toBe(false);
    expect(await recordAs('authenticated:mallory', null, true)).toBe(false);
    const rows = await db.sql`select hits, sd_type, sd_id, length(caller) as caller_len from unknown_inputs order by hits desc`;
    expect(rows).toEqual([
      { hits: 50, sd_type: 'security', sd_id: 'SD-UNK-1', caller_len: 64 },
      { hits: 1, sd_type: 'security', sd_id: 'SD-UNK-1', caller_len: 64 },
    ]);
    const [gate] = await db.sql`select fn_promotion_gate('*') as g`;
    expect(gate!.g).toMatchObject({ unknown_inputs: 2 });
  });

  it('starts a new signal in the next window', async () => {
    await db.sql`delete from unknown_inputs`;
    await recordAs('authenticated:bob', null);
    await db.sql`update unknown_inputs set window_start = window_start - interval '10 minutes', at = at - interval '10 minutes'`;
    await recordAs('authenticated:bob', null);
    expect(await db.sql`select count(*)::int as n from unknown_inputs`).toEqual([{ n: 2 }]);
  });
});
