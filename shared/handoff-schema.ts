// HTTP shapes of POST /functions/v1/handoff: the one place they are defined, used by the edge
// function to parse and by the OpenAPI generator (z.toJSONSchema) to document.
import { z } from 'zod';
import { ApprovalsSchema } from './approvals.ts';
import { ERROR_CODE_LIST, type ErrorCode } from './errors.ts';
import { GateResultSchema } from './gate-result.ts';
import { ModeReadSchema } from './mode-cache.ts';
import { int4, safeText } from './safe-text.ts';
import { HANDOFF_TYPES, type HandoffType, normalizeHandoffType } from './stages.ts';

export { HANDOFF_TYPES, type HandoffType };

// strictObject: an unknown field is refused, so a misspelt option never silently does nothing.
export const HandoffRequestSchema = z
  .strictObject({
    sd_id: safeText().trim().min(1).max(200).describe('Strategic directive key (e.g. SD-DEMO-001) or uuid'),
    handoff_type: safeText().min(1).max(64)
      .describe('LEAD-TO-PLAN, PLAN-TO-EXEC, EXEC-TO-PLAN or PLAN-TO-LEAD; variants such as exec_to_plan or ExecToPlan are normalised'),
    session_id: safeText().trim().min(1).max(200).describe('Session that holds (or takes) the claim on the SD'),
    timeout_ms: int4(100, 600_000).optional().describe('Per-attempt cap on every gate timeout'),
    dry_run: z.boolean().default(false).describe('Evaluate the gates and return the verdict without any transition'),
    skip_idempotency: z.boolean().default(false).describe('Run again even if an identical request was answered this hour'),
    expected_version: int4(0).optional().describe('transition_version the caller last saw; a mismatch is VERSION_CONFLICT'),
  })
  .meta({ id: 'HandoffRequest' });

export type HandoffRequestInput = z.input<typeof HandoffRequestSchema>;

export type HandoffRequest = Omit<z.output<typeof HandoffRequestSchema>, 'handoff_type'> & {
  handoff_type: HandoffType;
  /** What the client sent, before normalisation. */
  handoff_type_input: string;
  /** How handoff_type was repaired, if it was. */
  handoff_type_fixes: string[]; // from stages.ts: 'trim' | 'case' | 'separators' | 'synonym'
};

export interface RequestProblem {
  code: Extract<ErrorCode, 'INVALID_INPUT' | 'UNKNOWN_HANDOFF_TYPE'>;
  message: string;
  details: unknown;
}

export type ParseResult = { ok: true; value: HandoffRequest } | { ok: false; error: RequestProblem };

/** Never throws: bad input is a 400 with the zod issues flattened to path + message. */
export function parseHandoffRequest(body: unknown): ParseResult {
  const parsed = HandoffRequestSchema.safeParse(body);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(body)', message: i.message }));
    return {
      ok: false,
      error: {
        code: 'INVALID_INPUT',
        message: `Invalid handoff request: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`,
        details: { issues },
      },
    };
  }
  const input = parsed.data.handoff_type;
  const type = normalizeHandoffType(input);
  if (!type.ok) {
    const hint = type.suggestions.length > 0 ? `; did you mean ${type.suggestions.join(' or ')}?` : '';
    return {
      ok: false,
      error: {
        code: 'UNKNOWN_HANDOFF_TYPE',
        message: `Unknown handoff type "${input}"${hint}`,
        details: { handoff_type: input, suggestions: type.suggestions, valid: HANDOFF_TYPES },
      },
    };
  }
  return {
    ok: true,
    value: { ...parsed.data, handoff_type: type.value, handoff_type_input: input, handoff_type_fixes: type.fixes ?? [] },
  };
}

const FailureKindSchema = z.enum(['timeout', 'network', 'http5xx', 'http4xx', 'invalid_result', 'circuit_open', 'other']);

/** Mirrors GateOutcome in dag-runner.ts (camelCase, like the seed's gate result). */
export const GateOutcomeSchema = z
  .object({
    code: z.string(),
    passed: z.boolean(),
    score: z.number(),
    maxScore: z.number(),
    issues: z.array(z.string()),
    warnings: z.array(z.string()),
    details: z.unknown().optional(),
    fixes: z.array(z.string()).describe('Normalisation fixes applied to the raw result'),
    durationMs: z.number(),
    attempts: z.number().int(),
    skipped: z.boolean(),
    skipReason: z.string().nullable().describe('NON_APPLICABLE…, DEPENDENCY_FAILED, CIRCUIT_OPEN'),
    reused: z.boolean().describe('An already-recorded result was reused (idempotent hit)'),
    error: z.object({ kind: FailureKindSchema, message: z.string() }).optional(),
    startedAt: z.string(),
    finishedAt: z.string(),
  })
  .meta({ id: 'GateOutcome' });

export const HandoffResponseSchema = z
  .object({
    verdict: z.enum(['accepted', 'rejected', 'failed', 'awaiting_approval', 'expired'])
      .describe('awaiting_approval (HTTP 202): the automated gates passed and the plan holds an approval gate; see approvals. expired: a replay of an attempt whose approvals ran out'),
    sd_id: z.string(),
    sd_key: z.string().nullable().optional(),
    handoff_type: z.enum(HANDOFF_TYPES),
    phase_before: z.string().nullable(),
    phase_after: z.string().nullable().describe('Equals phase_before unless the handoff was accepted'),
    score: z.number().describe('Weighted normalised score 0..100, computed in SQL from the recorded results'),
    threshold: z.number().describe('SD-type threshold applied'),
    validation_mode: z.string(),
    dry_run: z.boolean(),
    replay: z.boolean().describe('true when the stored response of an earlier identical request is returned'),
    replay_reason: z.enum(['accepted', 'unchanged_inputs', 'in_progress', 'idempotency_key', 'concurrent']).nullable().optional()
      .describe('Why it replayed: the handoff was already accepted; it was rejected and nothing it depended on (SD, PRD, stories, gate plan, threshold, mode) changed since; the same request is still running and was resumed; the stored answer of this Idempotency-Key; a concurrent twin completed it first'),
    request_id: z.string(),
    attempt_id: z.string(),
    audit_id: z.string().nullable(),
    transition_version: z.number().int().nullable().optional(),
    issues: z.array(z.string()).optional(),
    gates: z.array(GateOutcomeSchema)
      .describe("Each automated gate's outcome in the plan's order. On a replay, the results recorded for that attempt (reused: true), not run again"),
    wall_ms: z.number(),
    critical_path_ms: z.number(),
    mode_read: ModeReadSchema.optional()
      .describe("The function's cached read of the SD type's mode (source database, cache, stale or fallback); validation_mode above is the one SQL judged by, and wins when they differ"),
    approvals: ApprovalsSchema.optional()
      .describe('Only when the plan holds approval gates: what is still needed (how many, from which roles, until when), who approved, who rejected'),
    approvals_url: z.string().optional().describe('With awaiting_approval: where approvers POST their decision'),
    status_url: z.string().optional().describe('With awaiting_approval: GET the attempt (Accept: text/event-stream follows it until it is settled)'),
    timings_ms: z.object({ begin: z.number(), gates: z.number(), complete: z.number() }).optional()
      .describe('Where the wall time went: begin RPC and set-up, running the gates, complete RPC'),
  })
  .meta({ id: 'HandoffResponse' });

export type HandoffResponse = z.infer<typeof HandoffResponseSchema>;

export const AsyncAcceptedSchema = z
  .object({ attempt_id: z.string(), request_id: z.string(), status_url: z.string() })
  .meta({ id: 'HandoffAccepted', description: '202 answer to Prefer: respond-async' });

export const ErrorResponseSchema = z
  .object({
    error: z.object({
      code: z.enum(ERROR_CODE_LIST as [ErrorCode, ...ErrorCode[]]),
      message: z.string(),
      details: z.unknown(),
    }),
  })
  .meta({ id: 'ErrorResponse' });

export { GateResultSchema };
