// HTTP shapes of approval gates and overrides: the decision request, the approvals an attempt is
// waiting for, and the answer of a decision. Used by the handoff function to parse and by the
// OpenAPI generator to document. The rules themselves live in SQL (fn_decide_approval).
import { z } from 'zod';

export const APPROVAL_DECISIONS = ['approve', 'reject'] as const;

export const ApprovalDecisionRequestSchema = z
  .strictObject({
    decision: z.enum(APPROVAL_DECISIONS).describe('approve, or reject (a rejection rejects the attempt)'),
    comment: z.string().trim().max(2000).optional().describe('Shown to the requester and kept in the history; required with reject'),
  })
  .refine((d) => d.decision !== 'reject' || (d.comment ?? '').length > 0, { message: 'a rejection needs a comment', path: ['comment'] })
  .meta({ id: 'ApprovalDecisionRequest' });

export type ApprovalDecisionRequest = z.output<typeof ApprovalDecisionRequestSchema>;

const ApproverSchema = z.object({
  user_id: z.string(),
  role: z.string(),
  comment: z.string().nullable(),
  decided_at: z.string(),
});

export const ApprovalGateStateSchema = z
  .object({
    code: z.string().describe('The approval gate (a leo_sub_agents row of kind approval)'),
    approvals_required: z.number().int(),
    approver_roles: z.array(z.string()).describe('Team roles whose members may approve (never the requester)'),
    approvals: z.number().int().describe('Approvals so far by eligible members'),
    approvals_needed: z.number().int().describe('Approvals still missing'),
    expiry_s: z.number().int(),
    approved_by: z.array(ApproverSchema),
  })
  .meta({ id: 'ApprovalGateState' });

/** What an attempt awaiting approval still needs: how many, from which roles, until when. */
export const ApprovalsSchema = z
  .object({
    gates: z.array(ApprovalGateStateSchema),
    approvals_needed: z.number().int().describe('Approvals still missing over all approval gates'),
    approver_roles: z.array(z.string()).nullable().describe('Roles that may still approve'),
    expiry_s: z.number().int().nullable(),
    deadline: z.string().nullable().describe('After this time the approval sweep expires the attempt'),
    rejected: ApproverSchema.extend({ gate: z.string() }).nullable().describe('The rejection that rejected the attempt, if any'),
  })
  .meta({ id: 'Approvals' });

export type Approvals = z.infer<typeof ApprovalsSchema>;

export const ApprovalDecisionResponseSchema = z
  .object({
    attempt_id: z.string(),
    recorded: z.boolean().describe('false: this person had already decided; their first decision stands and nothing changed'),
    status: z.enum(['awaiting_approval', 'completed', 'rejected', 'failed', 'expired', 'abandoned', 'in_progress']),
    verdict: z.string().nullable().describe('awaiting_approval, or the verdict the decision settled: accepted, rejected, failed'),
    decision: z.object({
      approver_id: z.string(),
      role: z.string(),
      decision: z.enum(APPROVAL_DECISIONS),
      comment: z.string().nullable(),
      decided_at: z.string(),
    }),
    result: z.record(z.string(), z.unknown()).nullable().describe("The attempt's answer now (as GET /handoff/attempts/<id> returns it)"),
  })
  .meta({ id: 'ApprovalDecisionResponse' });

export type ApprovalDecisionResponse = z.infer<typeof ApprovalDecisionResponseSchema>;

export const OverrideRequestSchema = z
  .strictObject({
    reason: z.string().trim().min(1).max(2000).describe('Why the rejected handoff is accepted anyway (kept in the audit and the history)'),
  })
  .meta({ id: 'OverrideRequest' });

export const OverrideResponseSchema = z
  .object({
    override: z.object({
      id: z.string(),
      attempt_id: z.string().describe('The attempt that applied the transition in place of the rejected one'),
      overridden_attempt_id: z.string(),
      actor_id: z.string().nullable(),
      role: z.string(),
      reason: z.string(),
      score: z.number().nullable(),
      threshold: z.number().nullable(),
      failed_gate: z.string().nullable(),
      validation_mode: z.string().nullable(),
      audit_id: z.string().nullable(),
      created_at: z.string(),
    }),
    recorded: z.boolean().describe('false: the attempt had already been overridden; that override is returned'),
    status: z.string(),
    verdict: z.string().nullable().describe('accepted, or awaiting_approval when the plan holds approval gates'),
    result: z.record(z.string(), z.unknown()).nullable(),
  })
  .meta({ id: 'OverrideResponse' });

export type OverrideResponse = z.infer<typeof OverrideResponseSchema>;

/** Approval gates wait for people: the orchestrator runs every other gate of the plan. */
export function isApprovalGate(gate: { kind?: unknown }): boolean {
  return gate.kind === 'approval';
}
