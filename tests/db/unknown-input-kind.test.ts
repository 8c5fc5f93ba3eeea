import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';

// Found by the generated bad-input test: a null or unknown kind reached the table's NOT NULL/CHECK
// and answered 23502/23514 (INTERNAL at the edge) instead of SG001 INVALID_INPUT.
let db: FreshDatabase;
beforeAll(async () => { db = await freshDatabase(); });
afterAll(async () => { await db.drop(); });

describe('fn_record_unknown_input', () => {
  it.each([null, 'bogus', ''])('refuses kind %j with SG001 and writes nothing', async (kind) => {
    const before = await db.sql`select count(*)::int as n from public.unknown_inputs`;
    await expect(db.sql`select public.fn_record_unknown_input(${kind}::text, 'X', null, 'handoff', 'c', null, false)`)
      .rejects.toMatchObject({ code: 'SG001' });
    expect(await db.sql`select count(*)::int as n from public.unknown_inputs`).toEqual(before);
  });

  it('still counts a known kind', async () => {
    const [row] = await db.sql`select public.fn_record_unknown_input('handoff_type', 'X', null, 'handoff', 'c', null, false) as fresh`;
    expect(row?.fresh).toBe(true);
  });
});
