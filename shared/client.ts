// A typed client for every stagegate function, built on supabase-js `functions.invoke`: what the
// console, the demo and the e2e tests use. Runtime-agnostic (browser, Node, Deno): it only needs
// something with supabase-js's `invoke`, e.g. `createClient(url, key).functions`.
//
// Every failure is an ApiError with the API's stable code (shared/errors.ts), or NETWORK when no
// answer arrived at all, so a caller can branch on `code` and show `message`.
import type {
  DirectiveCreate, DirectiveDetail, DirectiveList, DirectiveListQuery, DirectivePatch, ModeChangeRequest, Operations, Workflow,
} from './directives-schema.ts';
import { httpStatus, isErrorCode } from './errors.ts';
import type { HandoffRequestInput, HandoffResponse } from './handoff-schema.ts';
import type { ApprovalDecisionResponse, OverrideResponse } from './approvals.ts';

/** The part of supabase-js's FunctionsClient this client uses. */
export interface FunctionsInvoker {
  invoke<T = unknown>(name: string, options?: {
    method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
    body?: unknown;
    headers?: Record<string, string>;
    signal?: AbortSignal;
  }): Promise<{ data: T | null; error: unknown; response?: Response }>;
}

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly details: unknown;
  constructor(status: number, code: string, message: string, details: unknown = null) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** The ApiError for supabase-js's error of a failed invoke. */
export async function toApiError(error: unknown, response?: Response): Promise<ApiError> {
  const name = (error as { name?: string } | null)?.name ?? '';
  const context = response ?? ((error as { context?: unknown } | null)?.context instanceof Response ? (error as { context: Response }).context : undefined);
  if (context && name !== 'FunctionsFetchError') {
    const text = await context.text().catch(() => '');
    try {
      const body = JSON.parse(text) as { error?: { code?: string; message?: string; details?: unknown } };
      if (body.error?.code) return new ApiError(context.status, body.error.code, body.error.message ?? body.error.code, body.error.details ?? null);
    } catch {
      // not our envelope (a proxy's error page, say): report the status
    }
    return new ApiError(context.status, context.status >= 500 ? 'INTERNAL' : 'HTTP_ERROR', `HTTP ${context.status}${text ? `: ${text.slice(0, 200)}` : ''}`);
  }
  const message = (error as { message?: string } | null)?.message ?? String(error);
  return new ApiError(0, 'NETWORK', `No answer from the functions server (${message})`);
}

export interface SseEvent { event: string; data: Record<string, unknown> }

/** Server-sent events of a response body, one parsed event at a time. */
export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let cut: number;
      while ((cut = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, cut);
        buffer = buffer.slice(cut + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1] ?? 'message';
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (data) yield { event, data: JSON.parse(data) as Record<string, unknown> };
      }
    }
  } finally {
    reader.releaseLock();
  }
}

function query(params: Record<string, string | number | undefined>): string {
  const pairs = Object.entries(params).filter((e): e is [string, string | number] => e[1] !== undefined && e[1] !== '');
  return pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join('&')}`;
}

export type HandoffEvent =
  | { event: 'gate_started' | 'gate_finished' | 'gate_skipped' | string; data: Record<string, unknown> };

export function stagegateClient(functions: FunctionsInvoker) {
  async function call<T>(name: string, options: Parameters<FunctionsInvoker['invoke']>[1] = {}): Promise<T> {
    const { data, error, response } = await functions.invoke<T>(name, options);
    if (error) throw await toApiError(error, response);
    return data as T;
  }
  const key = (k: string) => encodeURIComponent(k);

  return {
    /** GET /directives: a page, counts per phase, the next cursor. */
    listDirectives: (q: DirectiveListQuery = {}) =>
      call<DirectiveList>(`directives${query({ phase: q.phase, sd_type: q.sd_type, team: q.team, q: q.q, limit: q.limit, cursor: q.cursor })}`, { method: 'GET' }),
    /** GET /directives/workflow: phases, handoff types, thresholds. */
    workflow: () => call<Workflow>('directives/workflow', { method: 'GET' }),
    /** GET /directives/<key>: the directive with its whole history. */
    getDirective: (sd: string) => call<DirectiveDetail>(`directives/${key(sd)}`, { method: 'GET' }),
    /** POST /directives: a directive with its PRD and stories, in one transaction. */
    createDirective: (body: DirectiveCreate) => call<DirectiveDetail>('directives', { method: 'POST', body }),
    /** PATCH /directives/<key>: content only. */
    updateDirective: (sd: string, patch: DirectivePatch) => call<DirectiveDetail>(`directives/${key(sd)}`, { method: 'PATCH', body: patch }),
    /** POST /handoff, answered as one JSON verdict. */
    handoff: (body: HandoffRequestInput, opts: { idempotencyKey?: string } = {}) =>
      call<HandoffResponse>('handoff', { method: 'POST', body, headers: opts.idempotencyKey ? { 'Idempotency-Key': opts.idempotencyKey } : {} }),
    /** POST /handoff with dry_run: the gates and the verdict, no transition. */
    dryRun: (body: Omit<HandoffRequestInput, 'dry_run'>) => call<HandoffResponse>('handoff', { method: 'POST', body: { ...body, dry_run: true } }),
    /**
     * POST /handoff with Accept: text/event-stream: `onEvent` sees each gate start and finish as it
     * happens; resolves with the verdict, or throws the ApiError of an error event or a refusal.
     * A handoff that waits for approval sends `awaiting_approval` (with the answer so far) and the
     * stream follows it (approval_decided, …) until its final verdict; if the server stops
     * following first (`still_waiting`), this resolves with the awaiting_approval answer.
     */
    async streamHandoff(body: HandoffRequestInput, onEvent: (e: HandoffEvent) => void, opts: { signal?: AbortSignal } = {}): Promise<HandoffResponse> {
      const { data, error, response } = await functions.invoke<Response>('handoff', {
        method: 'POST', body, headers: { Accept: 'text/event-stream' }, signal: opts.signal,
      });
      if (error) throw await toApiError(error, response);
      const stream = data instanceof Response ? data.body : null;
      if (!stream) throw new ApiError(0, 'NETWORK', 'the handoff answered without an event stream');
      let waiting: HandoffResponse | null = null;
      for await (const e of readSse(stream)) {
        if (e.event === 'verdict') return e.data as unknown as HandoffResponse;
        if (e.event === 'awaiting_approval') waiting = e.data as unknown as HandoffResponse;
        if (e.event === 'still_waiting' && waiting) {
          onEvent(e);
          return waiting;
        }
        if (e.event === 'error') {
          const err = (e.data as { error?: { code?: string; message?: string; details?: unknown } }).error ?? {};
          const code = err.code ?? 'INTERNAL';
          throw new ApiError(isErrorCode(code) ? httpStatus(code) : 500, code, err.message ?? 'the handoff failed', err.details ?? null);
        }
        onEvent(e);
      }
      if (waiting) return waiting;
      throw new ApiError(0, 'NETWORK', 'the event stream ended before the verdict');
    },
    /**
     * POST /handoff/attempts/<id>/approvals: approve or reject a handoff awaiting approval, as the
     * caller (SQL decides who may: 403 SELF_APPROVAL, NOT_AN_APPROVER; 409 APPROVAL_CLOSED).
     */
    decideApproval: (attemptId: string, body: { decision: 'approve' | 'reject'; comment?: string }) =>
      call<ApprovalDecisionResponse>(`handoff/attempts/${key(attemptId)}/approvals`, { method: 'POST', body }),
    /** POST /handoff/attempts/<id>/override: accept a rejected handoff anyway, with a reason. */
    overrideHandoff: (attemptId: string, body: { reason: string }) =>
      call<OverrideResponse>(`handoff/attempts/${key(attemptId)}/override`, { method: 'POST', body }),
    /** GET /operations: modes with the promotion gate, breakers, recent failures. */
    operations: () => call<Operations>('operations', { method: 'GET' }),
    /** POST /operations/modes: set a validation mode (the promotion gate decides ENFORCE). */
    setMode: (change: ModeChangeRequest) => call<Record<string, unknown>>('operations/modes', { method: 'POST', body: change }),
    /** GET /health. */
    health: () => call<Record<string, unknown>>('health', { method: 'GET' }),
  };
}

export type StagegateClient = ReturnType<typeof stagegateClient>;
