// Every privilege the API roles (anon, authenticated) hold in schema public, compared with an
// allow-list: a grant that nobody meant (a default privilege, a forgotten revoke) fails here.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';

// Deliberate: the read-only stage vocabulary and its pure normalisers (stage_normalization.sql).
const ALLOWED = [
  'authenticated EXECUTE function normalize_handoff_type(text)',
  'authenticated EXECUTE function normalize_stage(text)',
  'authenticated EXECUTE function normalize_stage_name(text,text)',
  'authenticated EXECUTE function parse_stage_distribution(jsonb)',
  'authenticated EXECUTE function stage_edit_distance(text,text,integer)',
  'authenticated EXECUTE function stage_suggestions(text,text)',
  'authenticated SELECT table stage_synonyms',
  'authenticated SELECT table stage_vocabulary',
  // People (01a_people.sql, 15, 13): the handoff RPCs, whose own rules decide (SG020/SG021); reads
  // filtered by the members' RLS policies; content-only column updates; handoff requests as oneself.
  ...['fn_atomic_exec_to_plan_transition(text,text,text,text)', 'fn_atomic_lead_to_plan_transition(text,text,text,text)',
    'fn_atomic_plan_to_exec_transition(text,text,text,text)', 'fn_atomic_plan_to_lead_transition(text,text,text,text)',
    'fn_begin_handoff(text,text,text,text,integer,boolean)', 'fn_claim_sd(text,text,integer)', 'fn_complete_handoff(uuid,integer)',
    'fn_execute_handoff(text,text,text,text,jsonb)', 'fn_in_transition()', 'fn_record_gate_result(uuid,text,jsonb,text,integer,integer)',
    'fn_release_sd(text,text)', 'fn_troubled_breakers(text[])'].map((f) => `authenticated EXECUTE function ${f}`),
  ...['handoff_type', 'sd_id', 'session_id'].map((c) => `authenticated INSERT column handoff_requests.${c}`),
  ...['handoff_attempts', 'handoff_permissions', 'handoff_requests', 'product_requirements_v2', 'sd_phase_handoffs', 'sd_transition_audit',
    'strategic_directives_v2', 'sub_agent_execution_results', 'team_members', 'teams', 'user_stories'].map((t) => `authenticated SELECT table ${t}`),
  ...['product_requirements_v2.acceptance_criteria', 'product_requirements_v2.executive_summary', 'product_requirements_v2.functional_requirements',
    'product_requirements_v2.test_scenarios', 'product_requirements_v2.title', 'strategic_directives_v2.description', 'strategic_directives_v2.metadata',
    'strategic_directives_v2.priority', 'strategic_directives_v2.scope', 'strategic_directives_v2.success_criteria', 'strategic_directives_v2.title',
    'user_stories.acceptance_criteria', 'user_stories.title'].map((c) => `authenticated UPDATE column ${c}`),
  // Approvals (16_approvals.sql): decisions and overrides are ruled in SQL from the caller's
  // identity; the approval history and overrides are read through RLS (the attempt's team).
  'authenticated EXECUTE function fn_decide_approval(uuid,text,text)',
  'authenticated EXECUTE function fn_override_handoff(uuid,text)',
  'authenticated SELECT table approval_decisions',
  'authenticated SELECT table approval_events',
  'authenticated SELECT table handoff_overrides',
  'authenticated SELECT table override_permissions',
  // The directives API (16_directives_api.sql): security-invoker RPCs whose table grants and RLS
  // decide, and fn_workflow (configuration, not secret); LEAD and PLAN members create directives,
  // PRDs and stories in their own teams (insert policies), with content and key columns only.
  ...['fn_create_directive(jsonb)', 'fn_directive_history(text)', 'fn_directive_summary(strategic_directives_v2)',
    'fn_list_directives(jsonb,integer)', 'fn_update_directive(text,jsonb)', 'fn_workflow()'].map((f) => `authenticated EXECUTE function ${f}`),
  ...['product_requirements_v2.acceptance_criteria', 'product_requirements_v2.executive_summary', 'product_requirements_v2.functional_requirements',
    'product_requirements_v2.id', 'product_requirements_v2.sd_id', 'product_requirements_v2.test_scenarios', 'product_requirements_v2.title',
    'strategic_directives_v2.description', 'strategic_directives_v2.id', 'strategic_directives_v2.metadata', 'strategic_directives_v2.priority',
    'strategic_directives_v2.scope', 'strategic_directives_v2.sd_type', 'strategic_directives_v2.success_criteria', 'strategic_directives_v2.team_id',
    'strategic_directives_v2.title', 'user_stories.acceptance_criteria', 'user_stories.prd_id', 'user_stories.sd_id', 'user_stories.story_key',
    'user_stories.title'].map((c) => `authenticated INSERT column ${c}`),
];

/** Every privilege of anon and authenticated on the objects of schema public (incl. through PUBLIC). */
const HELD = `
  with roles(r) as (values ('anon'), ('authenticated'))
  select r || ' ' || priv || ' ' || kind || ' ' || obj as line from (
    select r, p.priv, 'table' as kind, c.relname::text as obj
      from pg_class c cross join roles
      cross join unnest(array['SELECT','INSERT','UPDATE','DELETE','TRUNCATE','REFERENCES','TRIGGER']) p(priv)
     where c.relnamespace = 'public'::regnamespace and c.relkind in ('r','p','v','m','f')
       and has_table_privilege(r, c.oid, p.priv)
    union all
    select r, p.priv, 'column', c.relname || '.' || a.attname
      from pg_class c join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
      cross join roles cross join unnest(array['SELECT','INSERT','UPDATE','REFERENCES']) p(priv)
     where c.relnamespace = 'public'::regnamespace and c.relkind in ('r','p','v','m','f')
       and has_column_privilege(r, c.oid, a.attnum, p.priv) and not has_table_privilege(r, c.oid, p.priv)
    union all
    select r, p.priv, 'sequence', c.relname
      from pg_class c cross join roles cross join unnest(array['USAGE','SELECT','UPDATE']) p(priv)
     where c.relnamespace = 'public'::regnamespace and c.relkind = 'S' and has_sequence_privilege(r, c.oid, p.priv)
    union all
    select r, 'EXECUTE', 'function', f.oid::regprocedure::text
      from pg_proc f cross join roles
     where f.pronamespace = 'public'::regnamespace and has_function_privilege(r, f.oid, 'EXECUTE')
  ) x order by 1`;

describe('privileges of anon and authenticated in schema public', () => {
  let db: FreshDatabase;
  beforeAll(async () => { db = await freshDatabase(); });
  afterAll(async () => { await db.drop(); });

  it('are exactly the allow-list', async () => {
    const held = (await db.sql.unsafe<{ line: string }[]>(HELD)).map((r) => r.line);
    expect(held).toEqual([...ALLOWED].sort());
  });

  it('include nothing on sequences, so anon cannot set one back', async () => {
    const [seq] = await db.sql<{ name: string }[]>`
      select c.relname as name from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind = 'S' order by 1 limit 1`;
    expect(seq).toBeDefined();
    for (const role of ['anon', 'authenticated']) {
      const outcome = await db.sql.begin(async (tx) => {
        await tx.unsafe(`set local role ${role}`);
        await tx.unsafe(`select setval('public.${seq!.name}', 1)`);
        return 'ok';
      }).catch((e: { code?: string }) => e.code);
      expect({ role, outcome }).toEqual({ role, outcome: '42501' });
    }
  });

  it('are not granted to sequences created later (default privileges)', async () => {
    await db.sql`create sequence public.privileges_probe_seq`;
    const [row] = await db.sql<{ anon: boolean; authenticated: boolean; service_role: boolean }[]>`
      select has_sequence_privilege('anon', 'public.privileges_probe_seq', 'USAGE,UPDATE') as anon,
             has_sequence_privilege('authenticated', 'public.privileges_probe_seq', 'USAGE,UPDATE') as authenticated,
             has_sequence_privilege('service_role', 'public.privileges_probe_seq', 'USAGE') as service_role`;
    expect(row).toEqual({ anon: false, authenticated: false, service_role: true });
    await db.sql`drop sequence public.privileges_probe_seq`;
  });
});
