import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';

// The seed runbook's smoke test and monitoring queries, run as written against our schema.
describe('seed runbook', () => {
  let db: FreshDatabase;
  beforeAll(async () => { db = await freshDatabase(); });
  afterAll(async () => { await db.drop(); });

  it('verifies the migration', async () => {
    const { sql } = db;
    expect(await sql.unsafe(`SELECT proname FROM pg_proc WHERE proname = 'fn_atomic_exec_to_plan_transition'`)).toHaveLength(1);
    expect(await sql.unsafe(`SELECT table_name FROM information_schema.tables WHERE table_name = 'sd_transition_audit'`)).toHaveLength(1);
    expect(await sql.unsafe(`SELECT COUNT(*) FROM sd_transition_audit`)).toEqual([{ count: '0' }]);
  });

  it('smoke test: insert SD, EXEC-TO-PLAN, read its audit row, delete the SD; the audit row outlives it', async () => {
    const { sql } = db;
    await sql.unsafe(`insert into strategic_directives_v2 (id, title, current_phase) values ('SD-TEST-ATOMIC-001','Test Atomic Transition','EXEC_IMPLEMENTATION')`);
    const [res] = await sql.unsafe(`select fn_execute_handoff('SD-TEST-ATOMIC-001', 'EXEC-TO-PLAN', 'smoke', 'smoke-1',
      '[{"code": "STORIES_DONE", "passed": true, "score": 100, "maxScore": 100, "issues": [], "warnings": []}]') as r`);
    expect(res!.r).toMatchObject({ verdict: 'accepted', from_phase: 'EXEC_IMPLEMENTATION', to_phase: 'EXEC_COMPLETE' });
    const audit = await sql.unsafe(`select * from sd_transition_audit where sd_id = 'SD-TEST-ATOMIC-001'`);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ status: 'completed', transition_type: 'EXEC-TO-PLAN', pre_state: { sd_phase: 'EXEC_IMPLEMENTATION' }, post_state: { sd_phase: 'EXEC_COMPLETE' } });
    await sql.unsafe(`delete from strategic_directives_v2 where id = 'SD-TEST-ATOMIC-001'`);
    expect(await sql.unsafe(`select id from strategic_directives_v2 where id = 'SD-TEST-ATOMIC-001'`)).toHaveLength(0);
    expect(await sql.unsafe(`select * from sd_transition_audit where sd_id = 'SD-TEST-ATOMIC-001'`)).toHaveLength(1);
  });

  it('the availability check gets an error that is not a schema-cache error', async () => {
    const err = await db.sql.unsafe(`select fn_atomic_exec_to_plan_transition('TEST-CHECK', null, 'test', 'test')`).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^ATTEMPT_NOT_FOUND:/);
  });

  it('runs the metrics, health-check and tuning queries unchanged', async () => {
    const { sql } = db;
    const queries = [
      `SELECT COUNT(*) FROM sd_transition_audit WHERE status = 'completed'`,
      `SELECT AVG(execution_time_ms) FROM sd_phase_handoffs WHERE from_phase = 'EXEC_IMPLEMENTATION'`,
      `SELECT AVG(execution_time) FROM sub_agent_execution_results WHERE metadata->>'orchestrated' = 'true'`,
      `SELECT COUNT(*) FROM sub_agent_execution_results WHERE metadata->>'idempotent_hit' = 'true'`,
      `SELECT proname, prorettype::regtype, prosrc FROM pg_proc WHERE proname = 'fn_atomic_exec_to_plan_transition'`,
      `SELECT sd_id, transition_type, status, created_at FROM sd_transition_audit ORDER BY created_at DESC LIMIT 10`,
      `SELECT sd_id, transition_type, error_message, created_at FROM sd_transition_audit WHERE status = 'failed' ORDER BY created_at DESC LIMIT 10`,
      `SELECT sub_agent_code, COUNT(*) as duplicate_attempts FROM sub_agent_execution_results WHERE metadata->>'idempotent_hit' = 'true' GROUP BY sub_agent_code ORDER BY duplicate_attempts DESC`,
      `SELECT AVG(EXTRACT(EPOCH FROM (updated_at - created_at)) * 1000) as avg_duration_ms FROM sd_transition_audit WHERE status = 'completed' AND created_at > NOW() - INTERVAL '1 day'`,
      `SELECT COUNT(*) as total_executions, AVG(execution_time) as avg_time_sec FROM sub_agent_execution_results WHERE metadata->>'orchestrated' = 'true' AND created_at > NOW() - INTERVAL '1 day'`,
      `SELECT COUNT(*) FILTER (WHERE metadata->>'idempotent_hit' = 'true') * 100.0 / COUNT(*) as hit_rate_pct FROM sub_agent_execution_results WHERE created_at > NOW() - INTERVAL '1 day'`,
      `SELECT from_phase, to_phase, AVG(execution_time_ms) as avg_validation_ms FROM sd_phase_handoffs WHERE created_at > NOW() - INTERVAL '1 day' GROUP BY from_phase, to_phase ORDER BY avg_validation_ms DESC`,
    ];
    for (const q of queries) await sql.unsafe(q);
    const [completed] = await sql.unsafe(queries[0]!);
    expect(completed!.count).toBe('1');
    const [avg] = await sql.unsafe(queries[1]!);
    expect(Number(avg!.avg)).toBeGreaterThanOrEqual(0);
    const [dur] = await sql.unsafe(queries[8]!);
    expect(Number(dur!.avg_duration_ms)).toBeGreaterThan(0);
  });
});
