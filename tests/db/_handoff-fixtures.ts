// deno-lint-ignore-file no-explicit-any -- JSON answers from SQL and HTTP are inspected loosely here
// Fixtures shared by the SQL-core tests: directives with a PRD and stories, gate results, and
// a way to read the SQLSTATE + stable code of a refused call.
import type postgres from 'postgres';

export interface StorySpec { key: string; status?: string; criteria?: string[] }
export interface SdSpec {
  id: string;
  sdType?: string;
  phase?: string;
  prd?: boolean;
  stories?: StorySpec[];
}

export async function seedSd(sql: postgres.Sql, spec: SdSpec): Promise<{ id: string; uuid: string; prdId: string | null }> {
  const [sd] = await sql<{ uuid: string }[]>`
    insert into strategic_directives_v2 (id, title, sd_type, current_phase, description, scope, success_criteria)
    values (${spec.id}, ${'Title of ' + spec.id}, ${spec.sdType ?? 'feature'}, ${spec.phase ?? 'LEAD'},
            'what and why', 'these files', '["it works"]'::jsonb)
    returning uuid::text`;
  let prdId: string | null = null;
  if (spec.prd ?? true) {
    prdId = `PRD-${spec.id}`;
    await sql`
      insert into product_requirements_v2 (id, sd_id, title, executive_summary, functional_requirements, acceptance_criteria, test_scenarios)
      values (${prdId}, ${spec.id}, 'PRD', 'summary', '["FR-1"]', '["AC-1"]', '["TS-1"]')`;
  }
  for (const s of spec.stories ?? []) {
    await sql`
      insert into user_stories (story_key, sd_id, prd_id, title, status, acceptance_criteria)
      values (${s.key}, ${spec.id}, ${prdId}, ${'Story ' + s.key}, ${s.status ?? 'draft'}, ${sql.json(s.criteria ?? ['given/when/then'])})`;
  }
  return { id: spec.id, uuid: sd!.uuid, prdId };
}

export function gate(code: string, score = 100, extra: Record<string, unknown> = {}) {
  return { code, passed: score > 0, score, maxScore: 100, issues: [], warnings: [], ...extra };
}

/** The refusal of a call: SQLSTATE and the stable code that starts the message. */
export async function refusal(p: Promise<unknown>): Promise<{ state: string; code: string; message: string }> {
  try {
    await p;
  } catch (e) {
    const err = e as { code?: string; message: string };
    return { state: err.code ?? '', code: err.message.split(':')[0] ?? '', message: err.message };
  }
  throw new Error('expected the call to be refused, it succeeded');
}

/** fn_execute_handoff, returning the parsed answer. */
export async function execute(sql: postgres.Sql, sdId: string, type: string, requestId: string, results: unknown[], session = 'sess-A') {
  const [row] = await sql<{ r: Record<string, any> }[]>`
    select fn_execute_handoff(${sdId}, ${type}, ${session}, ${requestId}, ${sql.json(results as postgres.JSONValue)}) as r`;
  return row!.r;
}

export async function begin(sql: postgres.Sql, sdId: string, type: string, requestId: string, session = 'sess-A', expected: number | null = null) {
  const [row] = await sql<{ r: Record<string, any> }[]>`
    select fn_begin_handoff(${sdId}, ${type}, ${session}, ${requestId}, ${expected}) as r`;
  return row!.r;
}

/**
 * Makes the SD's open attempts old enough that fn_begin_handoff no longer counts them as live, so
 * a test can open a second attempt of the same SD (to race completes against each other).
 */
export async function ageOpenAttempts(sql: postgres.Sql, sdId: string): Promise<void> {
  await sql`update handoff_attempts set started_at = now() - interval '1 day' where sd_id = ${sdId} and status = 'in_progress'`;
}

export async function record(sql: postgres.Sql, attemptId: string, code: string, result: unknown, key: string | null = null) {
  const [row] = await sql<{ r: Record<string, any> }[]>`
    select fn_record_gate_result(${attemptId}::uuid, ${code}, ${sql.json(result as postgres.JSONValue)}, ${key}) as r`;
  return row!.r;
}

export async function complete(sql: postgres.Sql, attemptId: string, expected: number | null = null) {
  const [row] = await sql<{ r: Record<string, any> }[]>`select fn_complete_handoff(${attemptId}::uuid, ${expected}) as r`;
  return row!.r;
}
