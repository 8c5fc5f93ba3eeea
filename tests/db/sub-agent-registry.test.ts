import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { refusal } from './_handoff-fixtures.ts';

describe('leo_sub_agents stays a DAG of known codes', () => {
  let db: FreshDatabase;
  beforeAll(async () => { db = await freshDatabase(); });
  afterAll(async () => { await db.drop(); });

  it('accepts a batch in any order, refuses unknown dependencies and cycles with a clear error', async () => {
    const { sql } = db;
    await sql`insert into leo_sub_agents (code, kind, target, depends_on) values ('B', 'builtin', 'b', '{A}'), ('A', 'builtin', 'a', '{}')`;
    const unknown = await refusal(sql`insert into leo_sub_agents (code, kind, target, depends_on) values ('C', 'builtin', 'c', '{NOPE}')`);
    expect(unknown).toMatchObject({ state: 'SG013', code: 'UNKNOWN_DEPENDENCY' });
    expect(unknown.message).toContain(`'C' depends on 'NOPE'`);
    const cycle = await refusal(sql`update leo_sub_agents set depends_on = '{B}' where code = 'A'`);
    expect(cycle).toMatchObject({ state: 'SG014', code: 'DEPENDENCY_CYCLE' });
    expect(await refusal(sql`delete from leo_sub_agents where code = 'A'`)).toMatchObject({ state: 'SG013' });
    expect((await refusal(sql`insert into leo_sub_agents (code, kind, target, depends_on) values ('SELF', 'builtin', 's', '{SELF}')`)).state).toBe('23514');
  });

  it('ships the sql gates with defaults from the brief', async () => {
    const rows = await db.sql`select code, timeout_ms, max_retries, weight::int, required, active from leo_sub_agents where kind = 'sql' order by code`;
    expect(rows.map((r) => r.code)).toEqual(['PRD_COMPLETE', 'SD_DEFINED', 'STORIES_DONE', 'STORIES_HAVE_ACCEPTANCE_CRITERIA', 'STORIES_VALIDATED']);
    for (const r of rows) expect(r).toMatchObject({ timeout_ms: 60000, max_retries: 2, weight: 1, required: true, active: true });
  });
});
