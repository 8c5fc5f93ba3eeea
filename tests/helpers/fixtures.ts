// Test data: directives with a PRD and stories, inserted in any phase (inserts are not guarded;
// only phase *changes* must go through a handoff), and sub-agent registrations.
import type postgres from 'postgres';

export interface DirectiveSeed {
  id: string;
  sdType?: string;
  phase?: string;
  stories?: number;
  storyStatus?: string;
}

export async function seedDirective(sql: postgres.Sql, seed: DirectiveSeed): Promise<void> {
  const prd = `PRD-${seed.id.replace(/^SD-/, '')}`;
  await sql.begin(async (tx) => {
    await tx`insert into public.strategic_directives_v2 (id, title, description, scope, success_criteria, sd_type, current_phase)
      values (${seed.id}, ${`Directive ${seed.id}`}, 'test directive', 'tests', ${tx.json(['it works'])}, ${seed.sdType ?? 'feature'}, ${seed.phase ?? 'LEAD'})`;
    await tx`insert into public.product_requirements_v2 (id, sd_id, title, executive_summary, functional_requirements, acceptance_criteria, test_scenarios)
      values (${prd}, ${seed.id}, 'PRD', 'summary', ${tx.json(['fr'])}, ${tx.json(['ac'])}, ${tx.json(['ts'])})`;
    for (let i = 1; i <= (seed.stories ?? 2); i++) {
      await tx`insert into public.user_stories (story_key, sd_id, prd_id, title, status, acceptance_criteria)
        values (${`US-${i}`}, ${seed.id}, ${prd}, ${`story ${i}`}, ${seed.storyStatus ?? 'done'}, ${tx.json(['given when then'])})`;
    }
  });
}

export interface AgentSeed {
  code: string;
  kind?: 'sql' | 'http' | 'builtin' | 'approval';
  target: string;
  dependsOn?: string[];
  timeoutMs?: number;
  maxRetries?: number;
  weight?: number;
  required?: boolean;
  handoffTypes?: string[];
}

/** Replaces the whole registry with these agents (the seeded SQL gates are deactivated). */
export async function useOnlyAgents(sql: postgres.Sql, agents: AgentSeed[]): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`update public.leo_sub_agents set active = false`;
    for (const a of agents) {
      await tx`insert into public.leo_sub_agents (code, name, kind, target, depends_on, timeout_ms, max_retries, weight, required, handoff_types)
        values (${a.code}, ${a.code}, ${a.kind ?? 'http'}, ${a.target}, ${a.dependsOn ?? []}, ${a.timeoutMs ?? 5000}, ${a.maxRetries ?? 0},
                ${a.weight ?? 1}, ${a.required ?? true}, ${a.handoffTypes ?? []})
        on conflict (code) do update set kind = excluded.kind, target = excluded.target, depends_on = excluded.depends_on,
          timeout_ms = excluded.timeout_ms, max_retries = excluded.max_retries, weight = excluded.weight,
          required = excluded.required, handoff_types = excluded.handoff_types, active = true`;
    }
  });
}

export async function counts(sql: postgres.Sql, sdId: string) {
  const [row] = await sql<{ audits: number; completed: number; handoffs: number; results: number; phase: string | null; version: number | null }[]>`
    select (select count(*)::int from public.sd_transition_audit where sd_id = ${sdId}) as audits,
           (select count(*)::int from public.sd_transition_audit where sd_id = ${sdId} and status = 'completed') as completed,
           (select count(*)::int from public.sd_phase_handoffs where sd_id = ${sdId}) as handoffs,
           (select count(*)::int from public.sub_agent_execution_results where sd_id = ${sdId}) as results,
           (select current_phase from public.strategic_directives_v2 where id = ${sdId}) as phase,
           (select transition_version from public.strategic_directives_v2 where id = ${sdId}) as version`;
  return row!;
}
