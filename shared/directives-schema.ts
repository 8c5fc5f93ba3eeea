// HTTP shapes of /functions/v1/directives and /functions/v1/operations: the one place they are
// defined, used by the edge functions to parse, by the typed client (shared/client.ts) and by the
// OpenAPI generator. The rules themselves (what may be created, edited, seen) live in SQL
// (supabase/schemas/16_directives_api.sql); these schemas only refuse malformed input early with
// a readable 400.
import { z } from 'zod';
import { VALIDATION_MODES } from './mode-cache.ts';

const Text = (max: number) => z.string().max(max);
const JsonList = z.array(z.unknown()).max(200);
export const SD_KEY = /^SD-[A-Z0-9]+(-[A-Z0-9]+)*$/;
const SdType = z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/, 'an sd_type such as feature or security');
const Priority = z.enum(['critical', 'high', 'medium', 'low']);
const Uuid = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'a uuid');

// ---------------------------------------------------------------------------------- list
export const DirectiveListQuerySchema = z
  .strictObject({
    phase: z.string().regex(/^[A-Z][A-Z_]*$/, 'a phase such as LEAD or PLAN').optional(),
    sd_type: SdType.optional(),
    team: Uuid.optional().describe('A team id (people domain)'),
    q: z.string().trim().max(200).optional().describe('Text matched (literally, case-insensitive) in the key, title and description'),
    limit: z.coerce.number().int().min(1).max(200).default(50),
    cursor: z.string().max(500).optional().describe('next_cursor of the previous page'),
  })
  .meta({ id: 'DirectiveListQuery' });
export type DirectiveListQuery = Omit<z.input<typeof DirectiveListQuerySchema>, 'limit'> & { limit?: number };

/** The keyset position a cursor stands for: the last row of a page, newest-first order. */
const CursorSchema = z.strictObject({ created_at: z.string().min(1).max(64), id: z.string().min(1).max(100) });

function toBase64Url(text: string): string {
  return btoa(text).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

export function encodeCursor(after: { created_at: string; id: string }): string {
  return toBase64Url(JSON.stringify(after));
}

/** The position of a cursor, or null when it is not one of ours. */
export function decodeCursor(cursor: string): { created_at: string; id: string } | null {
  try {
    const text = atob(cursor.replaceAll('-', '+').replaceAll('_', '/'));
    const parsed = CursorSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export const DirectiveSummarySchema = z
  .looseObject({
    id: z.string(),
    uuid: z.string(),
    title: z.string(),
    sd_type: z.string(),
    status: z.string(),
    current_phase: z.string(),
    priority: z.string(),
    transition_version: z.number().int(),
    threshold: z.number().nullable(),
    awaiting_approval: z.boolean().describe('A handoff of the directive waits for people to decide it (an attempt in awaiting_approval)'),
    last_handoff: z.object({
      handoff_type: z.string(), status: z.string(), score: z.number().nullable(), threshold: z.number().nullable(), created_at: z.string(),
    }).nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .meta({ id: 'DirectiveSummary' });
export type DirectiveSummary = z.infer<typeof DirectiveSummarySchema>;

export const DirectiveListSchema = z
  .object({
    items: z.array(DirectiveSummarySchema),
    counts: z.record(z.string(), z.number().int()).describe('Directives per phase under every filter but phase and the cursor'),
    next_cursor: z.string().nullable().describe('Pass as cursor for the next page; null on the last'),
  })
  .meta({ id: 'DirectiveList' });
export type DirectiveList = z.infer<typeof DirectiveListSchema>;

// ---------------------------------------------------------------------------------- create
export const StoryInputSchema = z.strictObject({
  story_key: z.string().trim().min(1).max(100),
  title: z.string().trim().min(1).max(500),
  acceptance_criteria: JsonList.optional(),
});

export const PrdInputSchema = z.strictObject({
  id: z.string().trim().min(1).max(100).optional().describe('Default: PRD-<directive key without SD->'),
  title: z.string().trim().min(1).max(500),
  executive_summary: Text(20_000).optional(),
  functional_requirements: JsonList.optional(),
  acceptance_criteria: JsonList.optional(),
  test_scenarios: JsonList.optional(),
});

export const DirectiveCreateSchema = z
  .strictObject({
    id: z.string().regex(SD_KEY, 'a key such as SD-BILLING-001').max(100).optional().describe('Default: a generated SD-… key'),
    title: z.string().trim().min(1).max(500),
    description: Text(20_000).optional(),
    scope: Text(20_000).optional(),
    success_criteria: JsonList.optional(),
    sd_type: SdType.optional().describe('Default feature; decides the threshold'),
    priority: Priority.optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
    team_id: Uuid.optional().describe('The owning team (people domain); default: the default team'),
    prd: PrdInputSchema.optional(),
    stories: z.array(StoryInputSchema).max(200).optional(),
  })
  .meta({ id: 'DirectiveCreate', description: 'A directive with its PRD and stories, created in one transaction. Phase, status and version start at their defaults.' });
export type DirectiveCreate = z.input<typeof DirectiveCreateSchema>;

// ---------------------------------------------------------------------------------- edit
const Required = (what: string) => z.string().trim().min(1, `${what} cannot be empty`).max(500, `${what} is at most 500 characters`);

export const DirectivePatchSchema = z
  .strictObject({
    directive: z.strictObject({
      title: Required('a title').optional(),
      description: Text(20_000).nullable().optional(),
      scope: Text(20_000).nullable().optional(),
      success_criteria: JsonList.optional(),
      priority: Priority.optional(),
      metadata: z.record(z.string(), z.unknown()).optional(),
    }).optional(),
    prd: z.strictObject({
      title: Required('a PRD title').optional(),
      executive_summary: Text(20_000).nullable().optional(),
      functional_requirements: JsonList.optional(),
      acceptance_criteria: JsonList.optional(),
      test_scenarios: JsonList.optional(),
    }).optional(),
    stories: z.array(z.strictObject({
      story_key: z.string().trim().min(1).max(100),
      title: Required('a story title').optional(),
      acceptance_criteria: JsonList.optional(),
    })).max(200).optional(),
  })
  .meta({ id: 'DirectivePatch', description: 'Content only: phase, status, version, type and team change only through handoffs (refused as INVALID_INPUT)' });
export type DirectivePatch = z.input<typeof DirectivePatchSchema>;

// ---------------------------------------------------------------------------------- history
export const PersonSchema = z
  .object({
    user_id: z.string(),
    name: z.string().nullable().describe("user_metadata.full_name or name, else the email; null unless the caller shares a team with them (or is the service role)"),
    email: z.string().nullable(),
  })
  .describe('A person (a Supabase Auth user) as the caller may see them')
  .meta({ id: 'Person' });
export type Person = z.infer<typeof PersonSchema>;

export const ApprovalRequestSchema = z
  .object({
    attempt_id: z.string(),
    handoff_type: z.string(),
    status: z.string().describe('awaiting_approval while people decide; then completed, rejected, failed or expired'),
    verdict: z.string().nullable(),
    from_phase: z.string(),
    to_phase: z.string(),
    requested_by: PersonSchema.nullable().describe('null when the service role or a database role asked'),
    requested_at: z.string(),
    deadline: z.string().nullable().describe('After this the approval sweep expires the attempt'),
    settled_at: z.string().nullable(),
    approvals_needed: z.number().int().nullable(),
    approver_roles: z.array(z.string()).nullable().describe('Team roles that may still approve'),
    gates: z.array(z.looseObject({ code: z.string(), approvals_required: z.number().int(), approvals: z.number().int(), approvals_needed: z.number().int() })),
    decisions: z.array(z.object({
      by: PersonSchema, role: z.string(), decision: z.enum(['approve', 'reject']), comment: z.string().nullable(), decided_at: z.string(),
    })).describe('Oldest first'),
    my_decision: z.enum(['approve', 'reject']).nullable().describe("The caller's own decision, if any"),
    can_decide: z.boolean().describe('Whether the caller may approve or reject it now (decided in SQL by the rule fn_decide_approval applies)'),
    cannot_decide: z.object({ code: z.string(), message: z.string() }).nullable()
      .describe('Why not: SELF_APPROVAL, NOT_AN_APPROVER, APPROVAL_CLOSED (as fn_decide_approval would answer), or ALREADY_DECIDED'),
  })
  .describe('A handoff that waited (or waits) for people')
  .meta({ id: 'ApprovalRequest' });
export type ApprovalRequest = z.infer<typeof ApprovalRequestSchema>;

export const OverrideRecordSchema = z
  .object({
    id: z.string(), attempt_id: z.string(), overridden_attempt_id: z.string(), handoff_type: z.string(), by: PersonSchema.nullable(),
    role: z.string(), reason: z.string(), score: z.number().nullable(), threshold: z.number().nullable(), failed_gate: z.string().nullable(),
    created_at: z.string(),
  })
  .meta({ id: 'OverrideRecord' });

export const GateRecordSchema = z.object({
  code: z.string(),
  verdict: z.enum(['PASS', 'FAIL', 'SKIPPED', 'ERROR']),
  passed: z.boolean(),
  score: z.number(),
  max_score: z.number(),
  duration_ms: z.number().nullable(),
  attempts: z.number().int(),
  issues: z.array(z.unknown()),
  warnings: z.array(z.unknown()),
  skipped: z.boolean(),
  skip_reason: z.string().nullable(),
  error: z.string().nullable(),
  recorded_at: z.string(),
}).meta({ id: 'GateRecord' });

export const AttemptRecordSchema = z
  .looseObject({
    id: z.string(),
    request_id: z.string(),
    handoff_type: z.string(),
    session_id: z.string(),
    status: z.enum(['in_progress', 'awaiting_approval', 'completed', 'rejected', 'failed', 'abandoned', 'expired']),
    from_phase: z.string(),
    to_phase: z.string(),
    dry_run: z.boolean(),
    verdict: z.string().nullable(),
    score: z.number().nullable(),
    threshold: z.number().nullable(),
    validation_mode: z.string().nullable(),
    failed_gate: z.string().nullable(),
    started_at: z.string(),
    finished_at: z.string().nullable(),
    plan: z.unknown().describe('The gates planned at begin (frozen for the attempt)'),
    gates: z.array(GateRecordSchema),
    requested_by: PersonSchema.nullable().describe('The user who asked (actor_id); null for the service role or a database role'),
  })
  .describe('Every column of the attempt but its context snapshot (with the people domain: actor_id, actor_role, actor_via say who asked)')
  .meta({ id: 'AttemptRecord' });
export type AttemptRecord = z.infer<typeof AttemptRecordSchema>;

export const DirectiveDetailSchema = z
  .object({
    directive: z.looseObject({
      id: z.string(), uuid: z.string(), title: z.string(), description: z.string().nullable(), scope: z.string().nullable(),
      success_criteria: z.array(z.unknown()), sd_type: z.string(), status: z.string(), current_phase: z.string(),
      priority: z.string(), transition_version: z.number().int(), threshold: z.number().nullable(), awaiting_approval: z.boolean(),
      can_edit: z.boolean().describe('Whether the caller may edit its content (LEAD and PLAN members, the service role: the update policies)'),
      created_at: z.string(), updated_at: z.string(),
    }),
    prd: z.looseObject({
      id: z.string(), title: z.string(), executive_summary: z.string().nullable(), status: z.string(),
      functional_requirements: z.array(z.unknown()), acceptance_criteria: z.array(z.unknown()), test_scenarios: z.array(z.unknown()),
    }).nullable(),
    stories: z.array(z.looseObject({ id: z.string(), story_key: z.string(), title: z.string(), status: z.string(), acceptance_criteria: z.array(z.unknown()) })),
    next_handoffs: z.array(z.string()).describe('Handoff types whose from-phase is the current phase'),
    attempts: z.array(AttemptRecordSchema).describe('Newest first; dry runs included (dry_run: true)'),
    audit: z.array(z.looseObject({ id: z.string(), transition_type: z.string(), status: z.string(), created_at: z.string(), actor: PersonSchema.nullable() }))
      .describe('The audit chain, oldest first, with pre_state and post_state, and who made each row (actor)'),
    approvals: z.array(ApprovalRequestSchema).describe('Handoffs that waited for approval, newest first'),
    overrides: z.array(OverrideRecordSchema).describe('Overrides of rejected handoffs, newest first'),
  })
  .meta({ id: 'DirectiveDetail' });
export type DirectiveDetail = z.infer<typeof DirectiveDetailSchema>;

export const WorkflowSchema = z
  .object({
    phases: z.array(z.object({ phase: z.string(), ordinal: z.number().int(), description: z.string() })),
    handoff_types: z.array(z.object({ code: z.string(), from_phases: z.array(z.string()), to_phase: z.string(), description: z.string() })),
    thresholds: z.record(z.string(), z.number()),
    me: z.object({
      user_id: z.string().nullable(),
      role: z.string().describe('authenticated, service_role, or a database role'),
      teams: z.array(z.object({ team_id: z.string(), team: z.string(), role: z.string() })),
    }).describe('Who is asking: the signed-in user\'s teams and roles'),
  })
  .meta({ id: 'Workflow' });
export type Workflow = z.infer<typeof WorkflowSchema>;

// ---------------------------------------------------------------------------------- operations
export const ModeChangeRequestSchema = z
  .strictObject({
    scope: z.string().regex(/^(\*|[a-z][a-z0-9_-]{0,39})$/, "'*' (global) or an sd_type").default('*'),
    mode: z.enum(VALIDATION_MODES),
    reason: z.string().trim().min(1).max(500),
    force: z.boolean().default(false).describe('Override a refused promotion to ENFORCE (audited as forced)'),
  })
  .meta({ id: 'ModeChangeRequest' });
export type ModeChangeRequest = z.input<typeof ModeChangeRequestSchema>;

export const OperationsSchema = z
  .object({
    modes: z.array(z.looseObject({ scope: z.string(), mode: z.string(), promotion_gate: z.record(z.string(), z.unknown()) }))
      .describe('Each scope with a mode, with fn_promotion_gate(scope): ok, reasons, window, handoffs, rates'),
    breakers: z.array(z.looseObject({ sub_agent_code: z.string(), state: z.string() })),
    recent_failures: z.array(z.looseObject({ created_at: z.string(), sd_id: z.string() })).describe('v_latest_failed_transitions'),
  })
  .meta({ id: 'Operations' });
export type Operations = z.infer<typeof OperationsSchema>;

/** zod issues flattened to path + message, as the handoff function reports them. */
export function issuesOf(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(body)', message: i.message }));
}
