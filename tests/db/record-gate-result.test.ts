import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { begin, complete, gate, record, refusal, seedSd } from './_handoff-fixtures.ts';

describe('fn_record_gate_result', () => {
  let db: FreshDatabase;
  let attempt: string;
  beforeAll(async () => {
    db = await freshDatabase();
    await seedSd(db.sql, { id: 'SD-REC-001', phase: 'PLAN', stories: [{ key: 'US-1' }] });
    attempt = (await begin(db.sql, 'SD-REC-001', 'PLAN-TO-EXEC', 'req-rec-1')).attempt_id;
  });
  afterAll(async () => { await db.drop(); });

  it('stores a result and counts repeats as idempotent hits (first result wins)', async () => {
    const { sql } = db;
    const first = await record(sql, attempt, 'PRD_COMPLETE', gate('PRD_COMPLETE', 80), 'idmp_PRD_COMPLETE_abc');
    expect(first).toMatchObject({ idempotent_hit: false, result: { code: 'PRD_COMPLETE', passed: true, score: 80, maxScore: 100, verdict: 'PASS' } });
    const again = await record(sql, attempt, 'PRD_COMPLETE', gate('PRD_COMPLETE', 10), 'idmp_PRD_COMPLETE_abc');
    const third = await record(sql, attempt, 'PRD_COMPLETE', gate('PRD_COMPLETE', 10));
    expect(again).toMatchObject({ result_id: first.result_id, idempotent_hit: true, result: { score: 80 } });
    expect(third.result_id).toBe(first.result_id);
    const [row] = await sql`select hit_count, metadata from sub_agent_execution_results where id = ${first.result_id}`;
    expect(row).toMatchObject({ hit_count: 2, metadata: { idempotent_hit: true, hit_count: 2, orchestrated: true, idempotency_key: 'idmp_PRD_COMPLETE_abc', session_id: 'sess-A', phase: 'PLAN-TO-EXEC' } });
    // the runbook's query now counts this result as retried
    const hits = await sql`SELECT sub_agent_code, COUNT(*) as duplicate_attempts FROM sub_agent_execution_results
      WHERE metadata->>'idempotent_hit' = 'true' GROUP BY sub_agent_code ORDER BY duplicate_attempts DESC`;
    expect(hits).toEqual([{ sub_agent_code: 'PRD_COMPLETE', duplicate_attempts: '1' }]);
  });

  it('checks the contract with SG010 INVALID_GATE_RESULT', async () => {
    const { sql } = db;
    const bad = [
      { passed: true, score: 101, maxScore: 100 },
      { passed: true, score: -1, maxScore: 100 },
      { passed: true, score: 0, maxScore: 0 },
      { passed: 'yes', score: 1, maxScore: 100 },
      { passed: true, maxScore: 100 },
      { passed: true, score: 1, maxScore: 100, issues: 'not an array' },
    ];
    for (const r of bad) {
      expect(await refusal(record(sql, attempt, 'STORIES_HAVE_ACCEPTANCE_CRITERIA', r))).toMatchObject({ state: 'SG010', code: 'INVALID_GATE_RESULT' });
    }
  });

  it('stores a result for a gate outside the plan as skipped, refuses an unknown gate or attempt', async () => {
    const { sql } = db;
    const r = await record(sql, attempt, 'STORIES_DONE', gate('STORIES_DONE'));
    expect(r.result).toMatchObject({ skipped: true, skip_reason: 'NOT_IN_PLAN', verdict: 'SKIPPED' });
    expect(await refusal(record(sql, attempt, 'NOPE', gate('NOPE')))).toMatchObject({ state: 'SG011', code: 'UNKNOWN_GATE' });
    expect(await refusal(record(sql, '00000000-0000-4000-8000-000000000000', 'PRD_COMPLETE', gate('PRD_COMPLETE'))))
      .toMatchObject({ state: 'SG009', code: 'ATTEMPT_NOT_FOUND' });
  });

  it('refuses new results once the attempt is terminal, but still answers repeats', async () => {
    const { sql } = db;
    await record(sql, attempt, 'STORIES_HAVE_ACCEPTANCE_CRITERIA', gate('STORIES_HAVE_ACCEPTANCE_CRITERIA'));
    const done = await complete(sql, attempt);
    expect(done).toMatchObject({ verdict: 'accepted', score: 90 }); // (80 + 100) / 2
    await sql`insert into leo_sub_agents (code, kind, target) values ('LATE', 'builtin', 'late')`;
    expect(await refusal(record(sql, attempt, 'LATE', gate('LATE')))).toMatchObject({ state: 'SG001', code: 'INVALID_INPUT' });
    expect(await record(sql, attempt, 'PRD_COMPLETE', gate('PRD_COMPLETE'))).toMatchObject({ idempotent_hit: true, result: { score: 80 } });
  });
});
