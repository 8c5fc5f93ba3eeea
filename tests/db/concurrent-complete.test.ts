import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { ageOpenAttempts, begin, gate, record, seedSd } from './_handoff-fixtures.ts';

describe('32 concurrent completes on one SD', () => {
  let db: FreshDatabase;
  beforeAll(async () => { db = await freshDatabase(); });
  afterAll(async () => { await db.drop(); });

  it('exactly one transition and one completed audit; the rest SD_BUSY or ALREADY_TRANSITIONED', async () => {
    const { sql } = db;
    await seedSd(sql, { id: 'SD-RACE-001', phase: 'EXEC', stories: [{ key: 'US-1', status: 'done' }] });
    const attempts: string[] = [];
    for (let i = 0; i < 32; i++) {
      await ageOpenAttempts(sql, 'SD-RACE-001'); // begin refuses a second live attempt (SD_BUSY)
      const a = await begin(sql, 'SD-RACE-001', 'EXEC-TO-PLAN', `req-race-${i}`);
      await record(sql, a.attempt_id, 'STORIES_DONE', gate('STORIES_DONE'));
      attempts.push(a.attempt_id);
    }
    const clients = attempts.map(() => postgres(db.url, { max: 1, onnotice: () => {} }));
    try {
      await Promise.all(clients.map((c) => c`select 1`)); // connect first, so the calls race
      const outcomes = await Promise.all(clients.map(async (c, i) => {
        try {
          const [row] = await c<{ r: { verdict: string } }[]>`select fn_complete_handoff(${attempts[i]!}::uuid) as r`;
          return row!.r.verdict;
        } catch (e) {
          return (e as Error).message.split(':')[0]!;
        }
      }));
      const counts = outcomes.reduce<Record<string, number>>((m, o) => ({ ...m, [o]: (m[o] ?? 0) + 1 }), {});
      expect(counts.accepted).toBe(1);
      expect(Object.keys(counts).every((k) => ['accepted', 'SD_BUSY', 'ALREADY_TRANSITIONED'].includes(k))).toBe(true);
      expect((counts.SD_BUSY ?? 0) + (counts.ALREADY_TRANSITIONED ?? 0)).toBe(31);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
    const [sd] = await sql`select current_phase, transition_version from strategic_directives_v2 where id = 'SD-RACE-001'`;
    expect(sd).toEqual({ current_phase: 'EXEC_COMPLETE', transition_version: 1 });
    const [audits] = await sql`select count(*)::int as n, count(*) filter (where status = 'completed')::int as completed
      from sd_transition_audit where sd_id = 'SD-RACE-001'`;
    expect(audits).toEqual({ n: 1, completed: 1 });
    const [handoffs] = await sql`select count(*)::int as n from sd_phase_handoffs where sd_id = 'SD-RACE-001'`;
    expect(handoffs!.n).toBe(1);
  });

  it('derives a 64-bit lock key from the SD uuid (20000 uuids, no collision; hashtext would be 32 bits)', async () => {
    const [row] = await db.sql`select count(distinct fn_sd_lock_key(gen_random_uuid()))::int as n,
      bool_or(abs(fn_sd_lock_key(gen_random_uuid())) > 2147483647) as wide from generate_series(1, 20000)`;
    expect(row).toEqual({ n: 20000, wide: true });
  });
});
