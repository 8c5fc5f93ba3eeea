import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { ageOpenAttempts, begin, complete, gate, record, refusal, seedSd } from './_handoff-fixtures.ts';

describe('transition_version (optimistic locking)', () => {
  let db: FreshDatabase;
  beforeAll(async () => { db = await freshDatabase(); });
  afterAll(async () => { await db.drop(); });

  it('begin and complete refuse a stale expected version with VERSION_CONFLICT', async () => {
    const { sql } = db;
    await seedSd(sql, { id: 'SD-VER-001', phase: 'EXEC', stories: [{ key: 'US-1', status: 'done' }] });
    expect(await refusal(begin(sql, 'SD-VER-001', 'EXEC-TO-PLAN', 'req-v-0', 'sess-A', 7)))
      .toMatchObject({ state: 'SG007', code: 'VERSION_CONFLICT' });
    const a = await begin(sql, 'SD-VER-001', 'EXEC-TO-PLAN', 'req-v-1', 'sess-A', 0);
    expect(a.transition_version).toBe(0);
    await record(sql, a.attempt_id, 'STORIES_DONE', gate('STORIES_DONE'));
    const err = await refusal(complete(sql, a.attempt_id, 3));
    expect(err).toMatchObject({ state: 'SG007', code: 'VERSION_CONFLICT' });
    expect(err.message).toContain('is at transition_version 0, caller expected 3');
    const ok = await complete(sql, a.attempt_id, 0);
    expect(ok).toMatchObject({ verdict: 'accepted', transition_version: 1 });
  });

  it('an attempt begun before another transition landed gets ALREADY_TRANSITIONED', async () => {
    const { sql } = db;
    await seedSd(sql, { id: 'SD-VER-002', phase: 'EXEC', stories: [{ key: 'US-1', status: 'done' }] });
    const first = await begin(sql, 'SD-VER-002', 'EXEC-TO-PLAN', 'req-v-2a');
    // while the first is live a second begin is refused (SD_BUSY); one left from a crash is not
    expect(await refusal(begin(sql, 'SD-VER-002', 'EXEC-TO-PLAN', 'req-v-2b'))).toMatchObject({ state: 'SG006', code: 'SD_BUSY' });
    await ageOpenAttempts(sql, 'SD-VER-002');
    const second = await begin(sql, 'SD-VER-002', 'EXEC-TO-PLAN', 'req-v-2b');
    for (const a of [first, second]) await record(sql, a.attempt_id, 'STORIES_DONE', gate('STORIES_DONE'));
    expect((await complete(sql, first.attempt_id)).verdict).toBe('accepted');
    expect(await refusal(complete(sql, second.attempt_id))).toMatchObject({ state: 'SG008', code: 'ALREADY_TRANSITIONED' });
    const [n] = await sql`select count(*)::int as n from sd_transition_audit where sd_id = 'SD-VER-002'`;
    expect(n!.n).toBe(1);
  });
});
