import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { begin, complete, gate, record, refusal, seedSd } from './_handoff-fixtures.ts';

describe('session claims', () => {
  let db: FreshDatabase;
  beforeAll(async () => { db = await freshDatabase(); });
  afterAll(async () => { await db.drop(); });

  it('one session holds an SD; the holder renews; another session is refused', async () => {
    const { sql } = db;
    await seedSd(sql, { id: 'SD-CLAIM-001', phase: 'EXEC' });
    const [c1] = await sql`select fn_claim_sd('SD-CLAIM-001', 'sess-A', 60) as r`;
    expect(c1!.r).toMatchObject({ session_id: 'sess-A', renewed: false });
    const [c2] = await sql`select fn_claim_sd('SD-CLAIM-001', 'sess-A', 600) as r`;
    expect(c2!.r).toMatchObject({ session_id: 'sess-A', renewed: true });
    expect(new Date(c2!.r.expires_at).getTime()).toBeGreaterThan(new Date(c1!.r.expires_at).getTime());
    expect(await refusal(sql`select fn_claim_sd('SD-CLAIM-001', 'sess-B')`)).toMatchObject({ state: 'SG005', code: 'CLAIMED_BY_OTHER_SESSION' });
    expect(await refusal(begin(sql, 'SD-CLAIM-001', 'EXEC-TO-PLAN', 'req-c-1', 'sess-B'))).toMatchObject({ state: 'SG005', code: 'CLAIMED_BY_OTHER_SESSION' });
    const [rel] = await sql`select fn_release_sd('SD-CLAIM-001', 'sess-B') as r`;
    expect(rel!.r).toEqual({ sd_id: 'SD-CLAIM-001', released: false, held_by: 'sess-A' });
  });

  it('an expired claim is free: begin claims it for the caller', async () => {
    const { sql } = db;
    await seedSd(sql, { id: 'SD-CLAIM-002', phase: 'EXEC' });
    await sql`select fn_claim_sd('SD-CLAIM-002', 'sess-A')`;
    await sql`update sd_claims set expires_at = now() - interval '1 second' where sd_id = 'SD-CLAIM-002'`;
    const a = await begin(sql, 'SD-CLAIM-002', 'EXEC-TO-PLAN', 'req-c-2', 'sess-B');
    expect(a.status).toBe('in_progress');
    const [claim] = await sql`select session_id from sd_claims where sd_id = 'SD-CLAIM-002'`;
    expect(claim!.session_id).toBe('sess-B');
  });

  it('an unclaimed SD is claimed by begin; release frees it', async () => {
    const { sql } = db;
    await seedSd(sql, { id: 'SD-CLAIM-003', phase: 'EXEC' });
    await begin(sql, 'SD-CLAIM-003', 'EXEC-TO-PLAN', 'req-c-3', 'sess-A');
    const [rel] = await sql`select fn_release_sd('SD-CLAIM-003', 'sess-A') as r`;
    expect(rel!.r).toMatchObject({ released: true });
    await sql`select fn_claim_sd('SD-CLAIM-003', 'sess-B')`;
  });

  it('complete is refused when another session took the SD over after the claim expired', async () => {
    const { sql } = db;
    await seedSd(sql, { id: 'SD-CLAIM-004', phase: 'EXEC', stories: [{ key: 'US-1', status: 'done' }] });
    const a = await begin(sql, 'SD-CLAIM-004', 'EXEC-TO-PLAN', 'req-c-4', 'sess-A');
    await record(sql, a.attempt_id, 'STORIES_DONE', gate('STORIES_DONE'));
    await sql`update sd_claims set expires_at = now() - interval '1 second' where sd_id = 'SD-CLAIM-004'`;
    await sql`select fn_claim_sd('SD-CLAIM-004', 'sess-B')`;
    expect(await refusal(complete(sql, a.attempt_id))).toMatchObject({ state: 'SG005', code: 'CLAIMED_BY_OTHER_SESSION' });
  });
});
