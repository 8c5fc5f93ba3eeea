import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';

// Every RPC with arguments that would be valid for a service_role caller.
const RPCS = [
  `fn_get_validation_mode('feature')`,
  `fn_check_skip_conditions('docs', array['TESTING'])`,
  `fn_claim_sd('SD-X', 's')`,
  `fn_release_sd('SD-X', 's')`,
  `fn_begin_handoff('SD-X', 'LEAD-TO-PLAN', 's', 'r')`,
  `fn_record_gate_result(gen_random_uuid(), 'PRD_COMPLETE', '{}')`,
  `fn_evaluate_sql_gate(gen_random_uuid(), 'PRD_COMPLETE')`,
  `fn_complete_handoff(gen_random_uuid())`,
  `fn_execute_handoff('SD-X', 'LEAD-TO-PLAN', 's', 'r', '[]')`,
  `fn_atomic_lead_to_plan_transition('SD-X', null, 's', 'r')`,
  `fn_atomic_plan_to_exec_transition('SD-X', null, 's', 'r')`,
  `fn_atomic_exec_to_plan_transition('SD-X', null, 's', 'r')`,
  `fn_atomic_plan_to_lead_transition('SD-X', null, 's', 'r')`,
];
// The sql gates run over an attempt's snapshot inside the RPCs and for the functions' pool only.
const SERVICE_ONLY = ['fn_get_validation_mode', 'fn_check_skip_conditions', 'fn_evaluate_sql_gate'];
// Tables a member reads through RLS policies (tests/db/rls.test.ts says which rows).
const MEMBER_READABLE = ['strategic_directives_v2', 'product_requirements_v2', 'user_stories', 'handoff_attempts',
  'sub_agent_execution_results', 'sd_phase_handoffs', 'sd_transition_audit'];
const TABLES = [
  'sd_phases', 'threshold_profiles', 'threshold_profile_audit', 'handoff_types', 'validation_modes', 'sd_type_classes',
  'gate_skip_rules', 'leo_sub_agents', 'strategic_directives_v2', 'product_requirements_v2', 'user_stories', 'sd_claims',
  'handoff_attempts', 'sub_agent_execution_results', 'sd_phase_handoffs', 'sd_transition_audit',
];

describe('grants and function hygiene (what Supabase\'s linter checks)', () => {
  let db: FreshDatabase;
  beforeAll(async () => { db = await freshDatabase(); });
  afterAll(async () => { await db.drop(); });

  async function as(role: string, statement: string): Promise<string> {
    try {
      await db.sql.begin(async (tx) => {
        await tx.unsafe(`set local role ${role}`);
        await tx.unsafe(`select ${statement}`);
      });
      return 'ok';
    } catch (e) {
      return (e as { code?: string }).code ?? 'error';
    }
  }

  it('refuses every RPC to anon (42501); authenticated reaches the handoff RPCs, whose own rules then decide (SG codes)', async () => {
    for (const rpc of RPCS) {
      expect({ rpc, anon: await as('anon', rpc) }).toEqual({ rpc, anon: '42501' });
      const outcome = await as('authenticated', rpc);
      const expected = SERVICE_ONLY.some((name) => rpc.startsWith(name)) ? '42501' : 'SG';
      expect({ rpc, authenticated: outcome.startsWith('SG') ? 'SG' : outcome }).toEqual({ rpc, authenticated: expected });
    }
  });

  it('lets service_role call the RPCs (refusals are then our own SG codes, not permissions)', async () => {
    for (const rpc of RPCS) {
      const outcome = await as('service_role', rpc);
      expect({ rpc, outcome: outcome === 'ok' || outcome.startsWith('SG') }).toEqual({ rpc, outcome: true });
    }
  });

  it('keeps the helpers private even from service_role', async () => {
    expect(await as('service_role', `fn_store_gate_result(gen_random_uuid(), 'X', '{}', null, null, 1, true)`)).toBe('42501');
    expect(await as('service_role', `fn_judge_attempt(null::handoff_attempts)`)).toBe('42501');
  });

  it('enables RLS on every table and gives anon nothing', async () => {
    const rows = await db.sql<{ relname: string; rls: boolean; anon: boolean; authenticated: boolean }[]>`
      select c.relname, c.relrowsecurity as rls,
             has_table_privilege('anon', c.oid, 'select, insert, update, delete') as anon,
             has_table_privilege('authenticated', c.oid, 'select, insert, update, delete') as authenticated
      from pg_class c where c.relnamespace = 'public'::regnamespace and c.relname = any(${TABLES}) order by 1`;
    expect(rows).toHaveLength(TABLES.length);
    for (const r of rows) expect(r).toEqual({ relname: r.relname, rls: true, anon: false, authenticated: MEMBER_READABLE.includes(r.relname) });
    expect(await as('anon', `* from strategic_directives_v2`)).toBe('42501');
  });

  it('makes every RPC security definer with an empty search_path and a comment', async () => {
    const rows = await db.sql<{ proname: string; secdef: boolean; config: string[] | null; comment: string | null }[]>`
      select p.proname, p.prosecdef as secdef, p.proconfig as config, obj_description(p.oid, 'pg_proc') as comment
      from pg_proc p where p.pronamespace = 'public'::regnamespace
        and p.proname = any(${RPCS.map((r) => r.slice(0, r.indexOf('(')))})`;
    expect(rows).toHaveLength(RPCS.length);
    for (const r of rows) {
      expect({ name: r.proname, secdef: r.secdef, config: r.config, commented: (r.comment ?? '').length > 20 })
        .toEqual({ name: r.proname, secdef: true, config: ['search_path=""'], commented: true });
    }
  });
});
