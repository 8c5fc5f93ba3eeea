// The stage backfill is resumable: stopping after k batches (and losing a batch in flight) then
// running again ends in exactly the state and log of one uninterrupted run.
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runBackfill } from '../../scripts/backfill-stages.ts';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';

let once: FreshDatabase;
let resumed: FreshDatabase;
const quiet = () => {};

// Legacy data as an older writer might have left it. Phases must exist in sd_phases (foreign
// key), so the legacy names are registered there first, as they would have been.
async function seed(sql: postgres.Sql) {
  await sql`insert into public.sd_phases (phase, ordinal) values ('EXECUTION', 31), ('PLANNING', 21), ('LEGACY_X', 99)`;
  await sql`
    insert into public.strategic_directives_v2 (id, title, current_phase)
    select 'SD-BF-' || lpad(i::text, 4, '0'), 'backfill ' || i,
           (array['EXECUTION', 'PLANNING', 'LEAD', 'LEGACY_X', 'EXEC'])[1 + i % 5]
    from generate_series(1, 250) i`;
  await sql`
    insert into public.sd_phase_handoffs (id, attempt_id, sd_id, sd_uuid, handoff_type, from_phase, to_phase, status)
    select md5('h' || i)::uuid, md5('a' || i)::uuid, 'SD-BF-0001', md5('s' || i)::uuid,
           (array['exec_to_plan', 'Exec To Plan', 'EXEC-TO-PLAN', 'bogus', 'plan2exec'])[1 + i % 5],
           (array['exec', 'EXEC', 'Implementation', 'weird'])[1 + i % 4],
           (array['plan', 'PLAN', 'planning '])[1 + i % 3], 'accepted'
    from generate_series(1, 1000) i`;
  await sql`
    insert into public.leo_sub_agents (code, kind, target, handoff_types) values
      ('BF_GATE_A', 'builtin', 'noop', array['exec to plan', 'LEAD-TO-PLAN', 'nonsense']),
      ('BF_GATE_B', 'builtin', 'noop', array['PlanToExec'])`;
}

async function snapshot(sql: postgres.Sql) {
  return {
    sds: await sql`select id, current_phase from public.strategic_directives_v2 where id like 'SD-BF-%' order by id`,
    handoffs: await sql`select id, handoff_type, from_phase, to_phase from public.sd_phase_handoffs order by id`,
    gates: await sql`select code, handoff_types from public.leo_sub_agents order by code`,
    log: await sql`
      select target, column_name, old_value, new_value, outcome, count(*)::int as n
      from public.stage_backfill_log group by 1, 2, 3, 4, 5 order by 1, 2, 3, 4, 5`,
  };
}

beforeAll(async () => {
  [once, resumed] = await Promise.all([freshDatabase(), freshDatabase()]);
  await Promise.all([seed(once.sql), seed(resumed.sql)]);
});
afterAll(async () => {
  await Promise.all([once?.drop(), resumed?.drop()]);
});

describe('stage backfill', () => {
  it('normalises known values in one run and leaves unknown ones alone', async () => {
    const lines: string[] = [];
    const summary = await runBackfill(once.sql, { batchSize: 64, log: (l) => lines.push(l) });
    expect(summary.complete).toBe(true);
    expect(summary.batches).toBe(Math.ceil(250 / 64) + Math.ceil(1000 / 64) + 1);

    const phases = await once.sql`select current_phase, count(*)::int as n from public.strategic_directives_v2
      where id like 'SD-BF-%' group by 1 order by 1`;
    expect(phases).toEqual([
      { current_phase: 'EXEC', n: 100 },
      { current_phase: 'LEAD', n: 50 },
      { current_phase: 'LEGACY_X', n: 50 },
      { current_phase: 'PLAN', n: 50 },
    ]);
    const types = await once.sql`select handoff_type, count(*)::int as n from public.sd_phase_handoffs group by 1 order by 1`;
    expect(types).toEqual([
      { handoff_type: 'EXEC-TO-PLAN', n: 600 },
      { handoff_type: 'PLAN-TO-EXEC', n: 200 },
      { handoff_type: 'bogus', n: 200 },
    ]);
    const [gate] = await once.sql`select handoff_types from public.leo_sub_agents where code = 'BF_GATE_A'`;
    expect(gate?.handoff_types).toEqual(['EXEC-TO-PLAN', 'LEAD-TO-PLAN', 'nonsense']);

    expect(lines.some((l) => /strategic_directives_v2 batch 1: scanned 64/.test(l))).toBe(true);
    expect(lines.some((l) => l.includes('left alone: leo_sub_agents BF_GATE_A handoff_types[3] = "nonsense"'))).toBe(true);
    const [unknown] = await once.sql`select count(*)::int as n from public.stage_backfill_log where outcome = 'unknown'`;
    expect(unknown?.n).toBe(50 + 250 + 200 + 1); // LEGACY_X SDs, 'weird' phases, 'bogus' types, 'nonsense'
  });

  it('stopped after k batches, with a batch lost in flight, then re-run: same result as one run', async () => {
    const first = await runBackfill(resumed.sql, { batchSize: 64, maxBatches: 6, log: quiet });
    expect(first.complete).toBe(false);
    const cp = async () =>
      resumed.sql`select target, last_key, batches, rows_scanned, done from public.stage_backfill_checkpoints order by target`;
    const before = await cp();
    expect(before).toEqual([
      expect.objectContaining({ target: 'sd_phase_handoffs', batches: 2, rows_scanned: '128', done: false }),
      expect.objectContaining({ target: 'strategic_directives_v2', batches: 4, rows_scanned: '250', done: true }),
    ]);

    // A runner killed mid-batch: its transaction never commits, so nothing moves.
    await expect(
      resumed.sql.begin(async (tx) => {
        await tx`select public.fn_backfill_stage_batch('sd_phase_handoffs', 64)`;
        throw new Error('killed');
      }),
    ).rejects.toThrow('killed');
    expect(await cp()).toEqual(before);

    const second = await runBackfill(resumed.sql, { batchSize: 64, log: quiet });
    expect(second.complete).toBe(true);
    expect(await snapshot(resumed.sql)).toEqual(await snapshot(once.sql));
  });

  it('a finished run is a no-op; a new run finds nothing left to change', async () => {
    const again = await runBackfill(once.sql, { batchSize: 64, log: quiet });
    expect(again.batches).toBe(0);
    const fresh = await runBackfill(once.sql, { runId: 'second', batchSize: 500, log: quiet });
    expect(fresh.complete).toBe(true);
    expect(Object.values(fresh.results).map((r) => r.updated)).toEqual([0, 0, 0]);
  });

  it('does not leak the transition flag: a direct phase update after a batch is still refused', async () => {
    await expect(
      once.sql.begin(async (tx) => {
        await tx`select public.fn_backfill_stage_batch('strategic_directives_v2', 10, 'leak-check')`;
        await tx`update public.strategic_directives_v2 set current_phase = 'COMPLETED' where id = 'SD-BF-0001'`;
      }),
    ).rejects.toMatchObject({ code: 'SG012' });
  });

  it('refuses bad arguments with SG001', async () => {
    await expect(once.sql`select public.fn_backfill_stage_batch('sd_transition_audit', 10)`).rejects.toMatchObject({ code: 'SG001' });
    await expect(once.sql`select public.fn_backfill_stage_batch('leo_sub_agents', 0)`).rejects.toMatchObject({ code: 'SG001' });
  });
});
