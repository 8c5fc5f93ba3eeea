// Approval fixtures: an approval gate in the registry and more approvers in team alpha.
import type postgres from 'postgres';
import { TEAM_ALPHA } from './people.ts';

/** Extra LEAD members of team alpha: approvers who did not request the handoff. */
export const APPROVERS = Array.from({ length: 10 }, (_, i) => `a0000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`);

export async function seedApprovers(sql: postgres.Sql): Promise<void> {
  for (const [i, id] of APPROVERS.entries()) {
    await sql`insert into auth.users (id, email) values (${id}, ${`approver${i + 1}@example.test`}) on conflict do nothing`;
    await sql`insert into public.team_members (team_id, user_id, role) values (${TEAM_ALPHA}, ${id}, 'LEAD') on conflict do nothing`;
  }
}

/** Registers (or changes) the approval gate LEAD_SIGNOFF for LEAD-TO-PLAN of feature directives. */
export async function approvalGate(sql: postgres.Sql, o: { required?: number; roles?: string[]; expiry?: string; code?: string } = {}): Promise<void> {
  await sql`
    insert into public.leo_sub_agents (code, name, kind, target, required, handoff_types, sd_types, approvals_required, approver_roles, approval_expiry)
    values (${o.code ?? 'LEAD_SIGNOFF'}, 'Lead sign-off', 'approval', 'people', true, '{LEAD-TO-PLAN}', '{feature}',
            ${o.required ?? 1}, ${o.roles ?? ['LEAD']}, ${o.expiry ?? '72 hours'}::interval)
    on conflict (code) do update set approvals_required = excluded.approvals_required, approver_roles = excluded.approver_roles,
      approval_expiry = excluded.approval_expiry, active = true`;
}
