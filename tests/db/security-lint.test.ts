// The security checks of Supabase's database linter (splinter) that apply to this schema, as
// queries over the catalog: RLS enabled (0013), no function executable by anon, an empty
// search_path on every function (0011), policies that read auth.uid() once per statement through
// `(select auth.uid())` (0003 auth_rls_initplan), one permissive policy per table, role and action
// (0006), and the membership helpers in a schema the API does not expose. Plus what the style
// guide asks of policies: `to authenticated` only, and an index on every column they filter by.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';

const SCHEMAS = ['public', 'stagegate_private'];

describe('security lint (splinter\'s checks) on tables, functions and policies', () => {
  let db: FreshDatabase;
  beforeAll(async () => { db = await freshDatabase(); });
  afterAll(async () => { await db.drop(); });

  it('every table in public has RLS enabled', async () => {
    const rows = await db.sql`select c.relname from pg_class c
      where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p') and not c.relrowsecurity`;
    expect(rows).toEqual([]);
  });

  it('no function is executable by anon, and the private schema is not usable by anon at all', async () => {
    const rows = await db.sql`select p.oid::regprocedure::text as fn from pg_proc p
      where p.pronamespace = any(${SCHEMAS}::regnamespace[]) and has_function_privilege('anon', p.oid, 'execute')`;
    expect(rows).toEqual([]);
    const [usage] = await db.sql`select has_schema_privilege('anon', 'stagegate_private', 'usage') as anon`;
    expect(usage!.anon).toBe(false);
  });

  it('every function sets search_path to empty (security definer ones above all)', async () => {
    const rows = await db.sql`select p.oid::regprocedure::text as fn, p.prosecdef from pg_proc p
      where p.pronamespace = any(${SCHEMAS}::regnamespace[])
        and not coalesce('search_path=""' = any(p.proconfig), false)
        and not exists (select 1 from pg_depend d where d.objid = p.oid and d.deptype = 'e')`;
    expect(rows).toEqual([]);
  });

  it('policies are never for anon or public, read auth.uid() through (select auth.uid()), and call only private helpers', async () => {
    const policies = await db.sql<{ tablename: string; policyname: string; roles: string[]; permissive: string; cmd: string; expr: string }[]>`
      select tablename, policyname, roles::text[] as roles, permissive, cmd, coalesce(qual, '') || ' ' || coalesce(with_check, '') as expr
      from pg_policies where schemaname = 'public'`;
    expect(policies.length).toBeGreaterThanOrEqual(14);
    for (const p of policies) {
      // never anon, never public (every role): a policy names who it is for
      expect({ policy: p.policyname, anon: p.roles.includes('anon') || p.roles.includes('public') }).toEqual({ policy: p.policyname, anon: false });
      // every auth.*() call sits directly inside a scalar subquery: "( SELECT auth.uid() AS uid)"
      const calls = p.expr.match(/auth\.(uid|jwt|role)\(\)/g) ?? [];
      const wrapped = p.expr.match(/\(\s*SELECT auth\.(uid|jwt|role)\(\) AS \w+\)/g) ?? [];
      expect({ policy: p.policyname, unwrapped: calls.length - wrapped.length }).toEqual({ policy: p.policyname, unwrapped: 0 });
      expect({ policy: p.policyname, bareSetting: /current_setting/.test(p.expr) }).toEqual({ policy: p.policyname, bareSetting: false });
      // membership comes from security definer helpers in stagegate_private, evaluated once (IN (SELECT …))
      for (const fn of p.expr.match(/\b[a-z_]+\.[a-z_]+\(/g) ?? []) {
        expect({ policy: p.policyname, fn }).toSatisfy(({ fn: f }: { fn: string }) => f.startsWith('stagegate_private.') || f.startsWith('auth.'));
      }
    }
    // one permissive policy per table, role and action (splinter 0006)
    const seen = new Set<string>();
    for (const p of policies.filter((x) => x.permissive === 'PERMISSIVE')) {
      const key = `${p.tablename}:${p.cmd}`;
      expect({ duplicate: seen.has(key) ? key : null }).toEqual({ duplicate: null });
      seen.add(key);
    }
    const helpers = await db.sql`select p.proname, p.prosecdef from pg_proc p
      where p.pronamespace = 'stagegate_private'::regnamespace and p.proname in ('my_team_ids', 'my_sd_ids') order by 1`;
    expect(helpers).toEqual([{ proname: 'my_sd_ids', prosecdef: true }, { proname: 'my_team_ids', prosecdef: true }]);
  });

  it('has an index leading with every column a policy filters by', async () => {
    const filtered: [string, string][] = [
      ['strategic_directives_v2', 'team_id'], ['handoff_attempts', 'team_id'], ['sub_agent_execution_results', 'attempt_id'],
      ['sd_phase_handoffs', 'attempt_id'], ['sd_transition_audit', 'attempt_id'], ['product_requirements_v2', 'sd_id'],
      ['user_stories', 'sd_id'], ['team_members', 'user_id'], ['team_members', 'team_id'], ['teams', 'id'],
      ['handoff_requests', 'actor_id'],
    ];
    for (const [table, column] of filtered) {
      const [row] = await db.sql`select exists (
        select 1 from pg_index i join pg_attribute a on a.attrelid = i.indrelid and a.attnum = i.indkey[0]
        where i.indrelid = ${`public.${table}`}::regclass and a.attname = ${column}) as indexed`;
      expect({ table, column, indexed: row!.indexed }).toEqual({ table, column, indexed: true });
    }
  });

  it('new tables give anon nothing and authenticated no writes beyond the content columns', async () => {
    const rows = await db.sql`select c.relname,
        has_table_privilege('anon', c.oid, 'select, insert, update, delete, truncate') as anon,
        has_table_privilege('authenticated', c.oid, 'insert, delete, truncate') as authenticated_writes
      from pg_class c where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'
        and c.relname in ('teams', 'team_members', 'handoff_permissions', 'handoff_permission_changes',
                          'strategic_directives_v2', 'product_requirements_v2', 'user_stories')`;
    expect(rows).toHaveLength(7);
    for (const r of rows) expect(r).toEqual({ relname: r.relname, anon: false, authenticated_writes: false });
  });
});
