// The OpenAPI 3.1 document of every function endpoint, generated from the same zod schemas the
// functions parse with (z.toJSONSchema), and the error table of shared/errors.ts. scripts/openapi.ts
// writes it to docs/openapi.json; tests/unit/openapi.test.ts fails when the committed file drifts.
import { z } from 'zod';
import { ApprovalDecisionRequestSchema, ApprovalDecisionResponseSchema, OverrideRequestSchema, OverrideResponseSchema } from './approvals.ts';
import { ERROR_CODES, type ErrorCode } from './errors.ts';
import { AsyncAcceptedSchema, ErrorResponseSchema, HandoffRequestSchema, HandoffResponseSchema } from './handoff-schema.ts';
import {
  DirectiveCreateSchema, DirectiveDetailSchema, DirectiveListSchema, DirectivePatchSchema, ModeChangeRequestSchema, OperationsSchema, WorkflowSchema,
} from './directives-schema.ts';
import { AlertmanagerPayloadSchema, OpsModeRequestSchema, OpsWebhookResponseSchema, WebhookHeadersSchema } from './ops-webhook.ts';

type Json = Record<string, unknown>;

// Bodies that have no parsing schema of their own (the functions only produce them).
export const HealthResponseSchema = z
  .object({
    status: z.enum(['ok', 'unavailable']),
    database: z.object({ reachable: z.boolean(), latency_ms: z.number().optional(), error: z.string().optional() }),
    migration: z.object({ version: z.string(), name: z.string().nullable() }).nullable(),
    preflight: z.object({ ok: z.boolean(), checked: z.number().int(), missing: z.array(z.string()).describe('RPCs absent or with other arguments') }),
    sweeps: z
      .object({
        scheduler: z.enum(['pg_cron', 'stack']).describe("who runs the sweeps: pg_cron (usable, 1.5 or newer, jobs scheduled) or the local stack's scheduler"),
        pg_cron_jobs: z.number().int(),
        reason: z.string().nullable().describe('why not pg_cron (not installed, not preloaded, older than 1.5, …)'),
        pg_cron: z.object({
          installed: z.boolean(), version: z.string().nullable(), available: z.boolean(), preloaded: z.boolean(),
          usable: z.boolean(), reason: z.string().nullable(),
        }),
        last_run_at: z.string().nullable().describe('the latest run of any sweep'),
      })
      .nullable()
      .optional()
      .describe('public.fn_sweep_scheduler(); null on a database without it'),
    config: z.object({ ok: z.boolean(), problems: z.array(z.object({ variable: z.string(), message: z.string() })) })
      .describe('The functions\' settings (validated at start); while one is bad every other function answers 503 CONFIG_INVALID'),
    request_id: z.string(),
  })
  .meta({ id: 'HealthResponse' });

export const AttemptStatusSchema = z
  .object({
    id: z.string(),
    request_id: z.string(),
    sd_id: z.string(),
    handoff_type: z.string(),
    status: z.enum(['in_progress', 'awaiting_approval', 'completed', 'rejected', 'failed', 'abandoned', 'expired'])
      .describe('awaiting_approval: automated gates passed, people decide next (result.approvals says how many, which roles, until when); expired: nobody decided in time'),
    started_at: z.string(),
    finished_at: z.string().nullable(),
    result: z.record(z.string(), z.unknown()).nullable().describe('The verdict (as fn_complete_handoff returns it) once finished'),
  })
  .meta({ id: 'AttemptStatus' });

/** Which codes each operation can answer; every code of shared/errors.ts appears at least once. */
export const OPERATION_ERRORS: Record<string, readonly ErrorCode[]> = {
  getHealth: ['UNAUTHORIZED', 'METHOD_NOT_ALLOWED'],
  runHandoff: [
    'INVALID_INPUT', 'UNKNOWN_HANDOFF_TYPE', 'UNKNOWN_GATE', 'UNAUTHORIZED', 'FORBIDDEN', 'NOT_A_MEMBER', 'ROLE_NOT_ALLOWED', 'SD_NOT_FOUND', 'ATTEMPT_NOT_FOUND',
    'NOT_FOUND', 'METHOD_NOT_ALLOWED', 'WRONG_PHASE', 'CLAIMED_BY_OTHER_SESSION', 'SD_BUSY', 'VERSION_CONFLICT',
    'ALREADY_TRANSITIONED', 'IDEMPOTENCY_IN_FLIGHT', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'IDEMPOTENCY_MISMATCH',
    'INVALID_GATE_RESULT', 'INTERNAL', 'DB_UNAVAILABLE', 'CONFIG_INVALID', 'AWAITING_APPROVAL',
  ],
  decideApproval: [
    'INVALID_INPUT', 'UNAUTHORIZED', 'FORBIDDEN', 'ATTEMPT_NOT_FOUND', 'SELF_APPROVAL', 'NOT_AN_APPROVER', 'APPROVAL_CLOSED',
    'SD_BUSY', 'ALREADY_TRANSITIONED', 'CLAIMED_BY_OTHER_SESSION', 'METHOD_NOT_ALLOWED', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE',
    'INTERNAL', 'DB_UNAVAILABLE', 'CONFIG_INVALID',
  ],
  overrideHandoff: [
    'INVALID_INPUT', 'UNAUTHORIZED', 'FORBIDDEN', 'ATTEMPT_NOT_FOUND', 'OVERRIDE_NOT_ALLOWED', 'NOT_OVERRIDABLE', 'AWAITING_APPROVAL',
    'CLAIMED_BY_OTHER_SESSION', 'SD_BUSY', 'METHOD_NOT_ALLOWED', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'INTERNAL', 'DB_UNAVAILABLE',
    'CONFIG_INVALID',
  ],
  getHandoffAttempt: ['INVALID_INPUT', 'UNAUTHORIZED', 'FORBIDDEN', 'ATTEMPT_NOT_FOUND', 'INTERNAL', 'DB_UNAVAILABLE'],
  postOpsWebhook: [
    'INVALID_INPUT', 'WEBHOOK_SIGNATURE_INVALID', 'WEBHOOK_TIMESTAMP_INVALID', 'FORBIDDEN', 'METHOD_NOT_ALLOWED',
    'WEBHOOK_REPLAYED', 'PROMOTION_BLOCKED', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'INTERNAL', 'DB_UNAVAILABLE',
    'WEBHOOK_NOT_CONFIGURED', 'CONFIG_INVALID',
  ],
  getMetrics: ['UNAUTHORIZED', 'FORBIDDEN', 'METHOD_NOT_ALLOWED', 'CONFIG_INVALID'],
  listDirectives: ['INVALID_INPUT', 'UNAUTHORIZED', 'FORBIDDEN', 'METHOD_NOT_ALLOWED', 'INTERNAL', 'DB_UNAVAILABLE', 'CONFIG_INVALID'],
  createDirective: [
    'INVALID_INPUT', 'UNAUTHORIZED', 'FORBIDDEN', 'DIRECTIVE_EXISTS', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'INTERNAL', 'DB_UNAVAILABLE',
  ],
  getWorkflow: ['UNAUTHORIZED', 'FORBIDDEN', 'METHOD_NOT_ALLOWED', 'INTERNAL', 'DB_UNAVAILABLE'],
  getDirective: ['INVALID_INPUT', 'UNAUTHORIZED', 'FORBIDDEN', 'SD_NOT_FOUND', 'NOT_FOUND', 'METHOD_NOT_ALLOWED', 'INTERNAL', 'DB_UNAVAILABLE'],
  updateDirective: [
    'INVALID_INPUT', 'UNAUTHORIZED', 'FORBIDDEN', 'SD_NOT_FOUND', 'PAYLOAD_TOO_LARGE', 'UNSUPPORTED_MEDIA_TYPE', 'INTERNAL', 'DB_UNAVAILABLE',
  ],
  getOperations: ['UNAUTHORIZED', 'FORBIDDEN', 'NOT_FOUND', 'METHOD_NOT_ALLOWED', 'INTERNAL', 'DB_UNAVAILABLE'],
  setValidationMode: [
    'INVALID_INPUT', 'UNAUTHORIZED', 'FORBIDDEN', 'PROMOTION_BLOCKED', 'UNSUPPORTED_MEDIA_TYPE', 'METHOD_NOT_ALLOWED', 'INTERNAL', 'DB_UNAVAILABLE',
  ],
};

const ref = (id: string) => ({ $ref: `#/components/schemas/${id}` });

/** z.toJSONSchema of each schema, its named parts gathered into components.schemas. */
function collectSchemas(entries: [z.ZodType, 'input' | 'output'][]): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const [schema, io] of entries) {
    const converted = z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any' }) as Json & { $defs?: Record<string, Json> };
    const text = JSON.stringify(converted.$defs ?? {}).replaceAll('"#/$defs/', '"#/components/schemas/');
    for (const [id, def] of Object.entries(JSON.parse(text) as Record<string, Json>)) {
      if (out[id] && JSON.stringify(out[id]) !== JSON.stringify(def)) throw new Error(`schema ${id} differs between its uses (input vs output?)`);
      out[id] = def;
    }
  }
  return out;
}

function headerParams(schema: z.ZodObject, required: boolean): Json[] {
  const json = z.toJSONSchema(schema, { io: 'input', target: 'draft-2020-12' }) as { properties: Record<string, Json & { description?: string }> };
  return Object.entries(json.properties).map(([name, s]) => {
    const { description, ...rest } = s;
    return { name, in: 'header', required, description, schema: rest };
  });
}

function errorResponses(operation: string): Record<string, Json> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of OPERATION_ERRORS[operation] ?? []) {
    const status = ERROR_CODES[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const responses: Record<string, Json> = {};
  for (const [status, codes] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    responses[String(status)] = {
      description: `error.code: ${codes.join(', ')}`,
      content: {
        'application/json': {
          schema: ref('ErrorResponse'),
          examples: Object.fromEntries(codes.map((code) => [code, {
            summary: `${code}${ERROR_CODES[code].retryable ? ' (retryable)' : ''}`,
            value: { error: { code, message: '…', details: null } },
          }])),
        },
      },
    };
  }
  return responses;
}

const jsonBody = (id: string, description: string) => ({ description, content: { 'application/json': { schema: ref(id) } } });

export function buildOpenApi(o: { version: string }): Json {
  const schemas = collectSchemas([
    [HandoffRequestSchema, 'input'], [OpsModeRequestSchema, 'input'], [AlertmanagerPayloadSchema, 'input'],
    [HandoffResponseSchema, 'output'], [AsyncAcceptedSchema, 'output'], [ErrorResponseSchema, 'output'],
    [OpsWebhookResponseSchema, 'output'], [HealthResponseSchema, 'output'], [AttemptStatusSchema, 'output'],
    [ApprovalDecisionRequestSchema, 'input'], [OverrideRequestSchema, 'input'],
    [ApprovalDecisionResponseSchema, 'output'], [OverrideResponseSchema, 'output'],
    [DirectiveCreateSchema, 'input'], [DirectivePatchSchema, 'input'], [ModeChangeRequestSchema, 'input'],
    [DirectiveListSchema, 'output'], [DirectiveDetailSchema, 'output'], [WorkflowSchema, 'output'], [OperationsSchema, 'output'],
  ]);
  const listParams = [
    { name: 'phase', in: 'query', required: false, schema: { type: 'string', pattern: '^[A-Z][A-Z_]*$' }, description: 'Only directives in this phase (the counts still cover every phase)' },
    { name: 'sd_type', in: 'query', required: false, schema: { type: 'string' }, description: 'Only this SD type' },
    { name: 'team', in: 'query', required: false, schema: { type: 'string', format: 'uuid' }, description: 'Only this team\'s directives' },
    { name: 'q', in: 'query', required: false, schema: { type: 'string', maxLength: 200 }, description: 'Text matched literally (case-insensitive) in the key, title and description' },
    { name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 200, default: 50 } },
    { name: 'cursor', in: 'query', required: false, schema: { type: 'string' }, description: 'next_cursor of the previous page (keyset: newest first)' },
  ];
  const sdParam = { name: 'sd', in: 'path', required: true, schema: { type: 'string' }, description: 'The directive key (SD-…) or uuid' };
  const callerNote = 'Runs under the caller\'s identity (role and JWT claims set for the transaction, as PostgREST does): grants and row-level security decide what the caller sees and may change.';
  const handoffHeaders = [
    { name: 'Idempotency-Key', in: 'header', required: false, schema: { type: 'string', minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$' },
      description: 'Same key and body: the stored answer (Idempotent-Replayed: true); same key, other body: 422 IDEMPOTENCY_MISMATCH; still running: 409 IDEMPOTENCY_IN_FLIGHT' },
    { name: 'Prefer', in: 'header', required: false, schema: { type: 'string', examples: ['respond-async'] },
      description: 'respond-async: answer 202 once the attempt exists and poll its status_url' },
    { name: 'Accept', in: 'header', required: false, schema: { type: 'string', enum: ['application/json', 'text/event-stream'] },
      description: 'text/event-stream: gate events as they happen, then a verdict (or error) event' },
    { name: 'X-Stagegate-Handoff-Request', in: 'header', required: false, schema: { type: 'string', format: 'uuid' },
      description: 'Service role only (the handoff_requests consumer and the pg_net dispatch): run the request as whoever inserted that handoff_requests row, recorded as the way in "trigger"; 403 FORBIDDEN for any other caller, 404 NOT_FOUND for an unknown row' },
  ];
  return {
    openapi: '3.1.0',
    info: {
      title: 'stagegate functions',
      version: o.version,
      description: 'Edge functions of stagegate, a phase-gate handoff engine on Supabase. Every verdict is decided in SQL; errors use one envelope with a stable code (x-error-codes lists each code, its HTTP status and whether a retry may succeed).',
    },
    servers: [
      { url: 'http://127.0.0.1:54321/functions/v1', description: 'local stack (npm start)' },
      { url: 'https://{project_ref}.supabase.co/functions/v1', description: 'hosted Supabase', variables: { project_ref: { default: 'your-project-ref' } } },
    ],
    security: [{ bearerAuth: [] }],
    paths: {
      '/health': {
        get: {
          operationId: 'getHealth', summary: 'Database reachability, latest migration and the RPC pre-flight probe', tags: ['operations'],
          responses: { 200: jsonBody('HealthResponse', 'All good'), 503: jsonBody('HealthResponse', 'Database unreachable, no migration, RPCs missing, or invalid settings'), ...errorResponses('getHealth') },
        },
      },
      '/handoff': {
        post: {
          operationId: 'runHandoff', summary: 'Run a handoff: gates in parallel, verdict and transition in SQL', tags: ['handoffs'],
          description: 'Runs under the caller\'s identity. A signed-in user must be a member of the directive\'s team whose role handoff_permissions allows for the handoff type (LEAD-TO-PLAN: LEAD, PLAN-TO-EXEC: PLAN, EXEC-TO-PLAN: EXEC, PLAN-TO-LEAD: PLAN by default); otherwise 403 NOT_A_MEMBER or ROLE_NOT_ALLOWED and nothing is written. The service role may request any handoff. A session\'s claim belongs to the user who took it.',
          parameters: handoffHeaders,
          requestBody: { required: true, content: { 'application/json': { schema: ref('HandoffRequest') } } },
          responses: {
            200: {
              description: 'The verdict (accepted, rejected or failed: a rejection is an answer, not an error)',
              headers: { 'Idempotent-Replayed': { description: 'true when the stored answer of the Idempotency-Key is returned', schema: { type: 'string', enum: ['true'] } } },
              content: {
                'application/json': { schema: ref('HandoffResponse') },
                'text/event-stream': { schema: { type: 'string', description: 'with Accept: text/event-stream: gate events, then a verdict or error event' } },
              },
            },
            202: {
              description: 'Prefer: respond-async (HandoffAccepted), or verdict awaiting_approval: the automated gates passed and the plan holds an approval gate (HandoffResponse with approvals, status_url, approvals_url). With Accept: text/event-stream the stream stays open after an awaiting_approval event, with approval events, until a final verdict',
              headers: { Location: { description: 'status URL of the attempt', schema: { type: 'string' } } },
              content: { 'application/json': { schema: { oneOf: [ref('HandoffAccepted'), ref('HandoffResponse')] } } },
            },
            ...errorResponses('runHandoff'),
          },
        },
      },
      '/handoff/attempts/{attempt_id}': {
        get: {
          operationId: 'getHandoffAttempt', summary: 'Status of a handoff attempt (poll after 202)', tags: ['handoffs'],
          description: 'Read under the caller\'s identity: members of the directive\'s team and the service role see the attempt; to anyone else it answers 404 ATTEMPT_NOT_FOUND.',
          parameters: [{ name: 'attempt_id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
          responses: {
            200: {
              description: 'The attempt; with Accept: text/event-stream, its approval events (approval_requested, approval_decided, approval_expired, override) until a final verdict event (or still_waiting after STAGEGATE_APPROVAL_STREAM_MS)',
              content: { 'application/json': { schema: ref('AttemptStatus') }, 'text/event-stream': { schema: { type: 'string' } } },
            },
            ...errorResponses('getHandoffAttempt'),
          },
        },
      },
      '/handoff/attempts/{attempt_id}/approvals': {
        post: {
          operationId: 'decideApproval', summary: 'Approve or reject a handoff awaiting approval', tags: ['approvals'],
          description: 'As the caller (fn_decide_approval): a member of the directive\'s team whose role is in an approval gate\'s approver_roles, never the requester (403 SELF_APPROVAL; otherwise 403 NOT_AN_APPROVER; a non-member 404). The approval that completes the count applies the transition in the same transaction; a rejection (comment required) rejects the attempt. A second decision by the same person changes nothing and returns the first (recorded: false), also after the attempt is settled; anyone else then gets 409 APPROVAL_CLOSED.',
          parameters: [{ name: 'attempt_id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
          requestBody: { required: true, content: { 'application/json': { schema: ref('ApprovalDecisionRequest') } } },
          responses: { 200: jsonBody('ApprovalDecisionResponse', 'The decision and the attempt as it now is'), ...errorResponses('decideApproval') },
        },
      },
      '/handoff/attempts/{attempt_id}/override': {
        post: {
          operationId: 'overrideHandoff', summary: 'Accept a rejected handoff anyway, with a reason', tags: ['approvals'],
          description: 'As the caller (fn_override_handoff): a member of the directive\'s team whose role is in override_permissions (default LEAD); 403 OVERRIDE_NOT_ALLOWED otherwise. Only a rejection by the threshold, or by failed gates the registry marks overridable, can be overridden (409 NOT_OVERRIDABLE). The transition is applied by a new attempt with the same plan and gate results, with its own audit row; approval gates still apply. A second override of the same attempt returns the first (recorded: false).',
          parameters: [{ name: 'attempt_id', in: 'path', required: true, schema: { type: 'string', format: 'uuid' } }],
          requestBody: { required: true, content: { 'application/json': { schema: ref('OverrideRequest') } } },
          responses: { 200: jsonBody('OverrideResponse', 'The override and the attempt that applied it'), ...errorResponses('overrideHandoff') },
        },
      },
      '/ops-webhook': {
        post: {
          operationId: 'postOpsWebhook', tags: ['operations'],
          summary: 'Signed operations request: set a validation mode, or an Alertmanager notification',
          description: 'Authenticated by a Standard Webhooks signature (no JWT): HMAC-SHA256 of "webhook-id.webhook-timestamp.body" with any secret of OPS_WEBHOOK_SECRETS. A move to ENFORCE passes the promotion gate (409 PROMOTION_BLOCKED with the rates, count and window otherwise; force with a reason overrides and is audited). A configured Alertmanager alert that fires moves ENFORCE to WARN; its resolution never promotes. A webhook-id is accepted once; a request that failed did not use its id.',
          security: [{ standardWebhooks: [] }],
          parameters: headerParams(WebhookHeadersSchema, true),
          requestBody: { required: true, content: { 'application/json': { schema: { oneOf: [ref('OpsModeRequest'), ref('AlertmanagerPayload')] } } } },
          responses: { 200: jsonBody('OpsWebhookResponse', 'What changed ({changed: false} when nothing did)'), ...errorResponses('postOpsWebhook') },
        },
      },
      '/directives': {
        get: {
          operationId: 'listDirectives', summary: 'Directives the caller may read: filters, keyset pagination, counts per phase', tags: ['directives'],
          description: callerNote, parameters: listParams,
          responses: { 200: jsonBody('DirectiveList', 'A page, the counts per phase and the next cursor'), ...errorResponses('listDirectives') },
        },
        post: {
          operationId: 'createDirective', summary: 'Create a directive with its PRD and stories in one transaction', tags: ['directives'],
          description: `${callerNote} Phase, status and version start at their defaults and change only through handoffs.`,
          requestBody: { required: true, content: { 'application/json': { schema: ref('DirectiveCreate') } } },
          responses: { 201: jsonBody('DirectiveDetail', 'The new directive with its history (empty)'), ...errorResponses('createDirective') },
        },
      },
      '/directives/workflow': {
        get: {
          operationId: 'getWorkflow', summary: 'Phases in order, handoff types and the threshold of every SD type', tags: ['directives'],
          responses: { 200: jsonBody('Workflow', 'The workflow as data'), ...errorResponses('getWorkflow') },
        },
      },
      '/directives/{sd}': {
        get: {
          operationId: 'getDirective', summary: 'One directive with its whole history', tags: ['directives'],
          description: `${callerNote} Every attempt with its verdict, score against the threshold, each gate's result, duration and issues, who asked (requested_by); the audit chain (each row's actor); the handoff types it can take next; the handoffs that waited for approval, with every decision and, for the caller, can_decide and cannot_decide (the code POST /handoff/attempts/{attempt_id}/approvals would answer: SELF_APPROVAL, NOT_AN_APPROVER, APPROVAL_CLOSED, or ALREADY_DECIDED); overrides; can_edit. People are {user_id, name, email}: name and email only of the caller, members of a team the caller belongs to, or to the service role (null otherwise).`,
          parameters: [sdParam],
          responses: { 200: jsonBody('DirectiveDetail', 'The directive and its history'), ...errorResponses('getDirective') },
        },
        patch: {
          operationId: 'updateDirective', summary: 'Edit content: directive, PRD and stories in one transaction', tags: ['directives'],
          description: `${callerNote} Phase, status, version, type and team are refused (INVALID_INPUT).`,
          parameters: [sdParam],
          requestBody: { required: true, content: { 'application/json': { schema: ref('DirectivePatch') } } },
          responses: { 200: jsonBody('DirectiveDetail', 'The directive after the edit'), ...errorResponses('updateDirective') },
        },
      },
      '/operations': {
        get: {
          operationId: 'getOperations', summary: 'Validation modes with the promotion gate, circuit breakers, recent failed transitions', tags: ['operations'],
          description: callerNote,
          responses: { 200: jsonBody('Operations', 'What the console\'s Operations page shows'), ...errorResponses('getOperations') },
        },
      },
      '/operations/modes': {
        post: {
          operationId: 'setValidationMode', summary: 'Set a validation mode (a move to ENFORCE passes the promotion gate)', tags: ['operations'],
          description: `${callerNote} Every change is audited in validation_mode_changes.`,
          requestBody: { required: true, content: { 'application/json': { schema: ref('ModeChangeRequest') } } },
          responses: { 200: jsonBody('ModeChange', 'What changed, as fn_set_validation_mode returns it'), ...errorResponses('setValidationMode') },
        },
      },
      '/metrics': {
        get: {
          operationId: 'getMetrics', summary: 'Prometheus metrics (text format 0.0.4)', tags: ['operations'],
          description: 'Needs the service role or a JWT whose role claim is stagegate_metrics.',
          responses: { 200: { description: 'Prometheus exposition', content: { 'text/plain; version=0.0.4': { schema: { type: 'string' } } } }, ...errorResponses('getMetrics') },
        },
      },
    },
    components: {
      securitySchemes: {
        bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'Supabase JWT (anon key, user session or service-role key) checked by the gateway (verify_jwt)' },
        standardWebhooks: { type: 'apiKey', in: 'header', name: 'webhook-signature', description: 'Standard Webhooks: v1,<base64 HMAC-SHA256>, with webhook-id and webhook-timestamp (±5 minutes)' },
      },
      schemas,
    },
    'x-error-codes': Object.fromEntries(Object.entries(ERROR_CODES).map(([code, v]) => [code, { status: v.status, retryable: v.retryable }])),
  };
}

export function renderOpenApi(version: string): string {
  return `${JSON.stringify(buildOpenApi({ version }), null, 2)}\n`;
}
