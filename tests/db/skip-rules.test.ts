// deno-lint-ignore-file no-explicit-any -- JSON answers from SQL and HTTP are inspected loosely here
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { begin, seedSd } from './_handoff-fixtures.ts';

const LIGHTWEIGHT = ['bugfix', 'documentation', 'docs', 'process', 'orchestrator'];
const DOC_ONLY = ['documentation', 'docs', 'process'];
const LIGHT_VALIDATORS = ['FILE_SCOPE', 'EXPLORATION_AUDIT', 'EXECUTION_PLAN'];
const CODE_VALIDATORS = ['TESTING', 'GITHUB', 'REGRESSION'];
const ALL_TYPES = ['security', 'feature', 'infrastructure', 'bugfix', 'documentation', 'docs', 'process', 'orchestrator'];

describe('central skip rules (seed pattern 8)', () => {
  let db: FreshDatabase;
  beforeAll(async () => { db = await freshDatabase(); });
  afterAll(async () => { await db.drop(); });

  it('decides every (SD type, validator) pair in one batch call, with reason codes', async () => {
    const validators = [...LIGHT_VALIDATORS, ...CODE_VALIDATORS, 'PRD_COMPLETE'];
    for (const sdType of ALL_TYPES) {
      const rows = await db.sql<{ validator: string; should_skip: boolean; reason_code: string | null }[]>`
        select * from fn_check_skip_conditions(${sdType}, ${validators})`;
      expect(rows.map((r) => r.validator)).toEqual(validators);
      for (const r of rows) {
        const expected = DOC_ONLY.includes(sdType) && CODE_VALIDATORS.includes(r.validator) ? 'NON_APPLICABLE_SD_TYPE'
          : LIGHTWEIGHT.includes(sdType) && LIGHT_VALIDATORS.includes(r.validator) ? 'LIGHTWEIGHT_SD_TYPE' : null;
        expect({ sdType, ...r }).toEqual({ sdType, validator: r.validator, should_skip: expected !== null, reason_code: expected });
      }
    }
  });

  it('matches validator names case-insensitively', async () => {
    const [row] = await db.sql`select * from fn_check_skip_conditions('bugfix', array['file_scope'])`;
    expect(row).toEqual({ validator: 'file_scope', should_skip: true, reason_code: 'LIGHTWEIGHT_SD_TYPE' });
  });

  it('begin lists skipped gates with skip true and the reason, so the caller can report them', async () => {
    const { sql } = db;
    await sql`insert into leo_sub_agents (code, kind, target, handoff_types) values
      ('TESTING', 'http', 'http://127.0.0.1:9/t', '{EXEC-TO-PLAN}'), ('FILE_SCOPE', 'builtin', 'file_scope', '{EXEC-TO-PLAN}')`;
    await seedSd(sql, { id: 'SD-SKIP-DOCS', sdType: 'docs', phase: 'EXEC' });
    await seedSd(sql, { id: 'SD-SKIP-FEAT', sdType: 'feature', phase: 'EXEC' });
    const docs = await begin(sql, 'SD-SKIP-DOCS', 'EXEC-TO-PLAN', 'req-skip-1');
    const feat = await begin(sql, 'SD-SKIP-FEAT', 'EXEC-TO-PLAN', 'req-skip-2');
    const pick = (a: any) => Object.fromEntries(a.gates.map((g: any) => [g.code, g.skip_reason]));
    expect(pick(docs)).toEqual({ FILE_SCOPE: 'LIGHTWEIGHT_SD_TYPE', STORIES_DONE: null, TESTING: 'NON_APPLICABLE_SD_TYPE' });
    expect(pick(feat)).toEqual({ FILE_SCOPE: null, STORIES_DONE: null, TESTING: null });
    // a skipped required gate is not "missing": the docs SD passes on STORIES_DONE alone
    const [r] = await sql`select fn_execute_handoff('SD-SKIP-DOCS', 'EXEC-TO-PLAN', 'sess-A', 'req-skip-1', '[]') as r`;
    expect(r!.r).toMatchObject({ verdict: 'accepted', score: 100 });
  });
});
