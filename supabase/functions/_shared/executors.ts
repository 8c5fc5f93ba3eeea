// How each kind of sub-agent runs one attempt. The runner supplies the AbortSignal (timeout and
// request abort) and the gate's own deep copy of the context; retry, breaker and normalisation
// are the runner's business, so an executor only throws or returns the raw result.
import type postgres from 'postgres';
import { Webhook } from 'standardwebhooks';
import { builtinGate } from '../../../shared/builtin-gates.ts';
import type { ExecuteContext, GateSpec } from '../../../shared/dag-runner.ts';
import { HttpStatusError, InvalidGateResultError } from '../../../shared/resilience.ts';

export interface ExecutorConfig {
  /** Standard Webhooks secret (whsec_…) that signs every request to an http sub-agent. */
  signingSecret: string | undefined;
}

interface GateCall extends ExecutorConfig {
  sql: postgres.Sql;
  attemptId: string;
  sdId: string;
  handoffType: string;
}

const MAX_AGENT_RESPONSE_BYTES = 1_000_000;

async function runSqlGate(gate: GateSpec, signal: AbortSignal, call: GateCall): Promise<unknown> {
  // The query is cancelled server-side when the attempt times out, so a slow gate frees its backend.
  const query = call.sql`select public.fn_evaluate_sql_gate(${call.attemptId}::uuid, ${gate.code}) as r`;
  const cancel = () => { query.cancel(); };
  signal.addEventListener('abort', cancel, { once: true });
  try {
    const [row] = await query;
    return row?.r;
  } finally {
    signal.removeEventListener('abort', cancel);
  }
}

async function runHttpGate(gate: GateSpec, ctx: ExecuteContext<Record<string, unknown>>, call: GateCall): Promise<unknown> {
  if (!gate.target) throw new InvalidGateResultError(`sub-agent ${gate.code} has no target URL`);
  if (!call.signingSecret) throw new InvalidGateResultError('SUBAGENT_SIGNING_SECRET is not configured: http sub-agents are not called unsigned');
  const body = JSON.stringify({ gate: gate.code, attempt: ctx.attempt, attempt_id: call.attemptId, sd_id: call.sdId, handoff_type: call.handoffType, context: ctx.context });
  const id = `${call.attemptId}:${gate.code}:${ctx.attempt}`;
  const timestamp = new Date();
  const signature = new Webhook(call.signingSecret).sign(id, timestamp, body);
  const response = await fetch(gate.target, {
    method: 'POST',
    body,
    signal: ctx.signal,
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(timestamp.getTime() / 1000)),
      'webhook-signature': signature,
    },
  });
  const text = await response.text();
  if (!response.ok) throw new HttpStatusError(response.status, `sub-agent ${gate.code} answered HTTP ${response.status}`);
  if (text.length > MAX_AGENT_RESPONSE_BYTES) throw new InvalidGateResultError(`sub-agent ${gate.code} answered more than ${MAX_AGENT_RESPONSE_BYTES} bytes`);
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidGateResultError(`sub-agent ${gate.code} answered something that is not JSON`);
  }
}

export function executeGate(gate: GateSpec, ctx: ExecuteContext<Record<string, unknown>>, call: GateCall): Promise<unknown> {
  switch (gate.kind) {
    case 'sql':
      return runSqlGate(gate, ctx.signal, call);
    case 'http':
      return runHttpGate(gate, ctx, call);
    case 'builtin': {
      const fn = builtinGate(gate.target ?? gate.code);
      if (!fn) return Promise.reject(new InvalidGateResultError(`no builtin gate named ${gate.target ?? gate.code}`));
      return fn(ctx.context, ctx.signal);
    }
    default:
      return Promise.reject(new InvalidGateResultError(`unknown sub-agent kind ${(gate as GateSpec).kind}`));
  }
}
