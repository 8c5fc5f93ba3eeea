// One pass of the approval webhook delivery: claim the due approval events, POST each to the
// configured URL signed per Standard Webhooks (the `standardwebhooks` library), record every
// outcome. The database keeps the delivery state (approval_webhook_deliveries):
// fn_claim_approval_webhooks leases due events, fn_record_approval_webhook records each attempt
// with exponential retries and, after the last one, the dead-letter record. Runtime-agnostic: the
// local stack's relay (stack/approval-webhook.ts, Node) and the `approval-webhooks` edge function
// (Deno, kicked by pg_cron + pg_net on hosted Supabase) both call it.
// A receiver should verify the signature and treat a repeated webhook-id as the same event.
import type postgres from 'postgres';
import { Webhook } from 'standardwebhooks';

export interface ApprovalWebhookTarget {
  url: string;
  /** Standard Webhooks secret (whsec_…). */
  secret: string;
  /** Per POST; the lease is this plus 5 s, so a slow receiver is not sent the event twice. */
  timeoutMs?: number;
  /** Attempts before the delivery is dead (the dead-letter record). */
  maxAttempts?: number;
  /** Events per pass. */
  limit?: number;
}

export interface ApprovalWebhookLogEntry {
  level: 'info' | 'warn' | 'error';
  msg: string;
  event_id: number;
  event: unknown;
  attempt: number;
  status: number | null;
  error: string | null;
}

export interface ApprovalWebhookPass { claimed: number; delivered: number; retrying: number; dead: number }

interface Claimed { event_id: number; attempt: number; payload: Record<string, unknown> }

export async function deliverApprovalWebhooks(
  sql: postgres.Sql,
  target: ApprovalWebhookTarget,
  log: (entry: ApprovalWebhookLogEntry) => void = () => {},
): Promise<ApprovalWebhookPass> {
  const timeoutMs = target.timeoutMs ?? 10_000;
  const maxAttempts = target.maxAttempts ?? 8;
  const signer = new Webhook(target.secret);
  const [row] = await sql<{ r: Claimed[] }[]>`
    select public.fn_claim_approval_webhooks(${target.limit ?? 50}::int, ${Math.ceil(timeoutMs / 1000) + 5}::int) as r`;
  const claimed = row?.r ?? [];
  const pass: ApprovalWebhookPass = { claimed: claimed.length, delivered: 0, retrying: 0, dead: 0 };

  const send = async (c: Claimed): Promise<void> => {
    const id = `approval-event-${c.event_id}`;
    const body = JSON.stringify(c.payload);
    const at = new Date();
    let ok = false;
    let status: number | null = null;
    let error: string | null = null;
    try {
      const response = await fetch(target.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
          'webhook-signature': signer.sign(id, at, body),
        },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
      status = response.status;
      await response.body?.cancel();
      ok = response.ok;
      if (!ok) error = `HTTP ${response.status}`;
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    const [recorded] = await sql<{ r: { status: string; attempts: number } }[]>`
      select public.fn_record_approval_webhook(${c.event_id}::bigint, ${ok}, ${status}::int, ${error}, ${maxAttempts}::int) as r`;
    const dead = !ok && recorded?.r.status === 'dead';
    if (ok) pass.delivered += 1;
    else if (dead) pass.dead += 1;
    else pass.retrying += 1;
    log({
      level: ok ? 'info' : dead ? 'error' : 'warn',
      msg: ok ? 'approval webhook delivered' : dead ? 'approval webhook dead-lettered' : 'approval webhook failed, will retry',
      event_id: c.event_id, event: c.payload.event, attempt: c.attempt, status, error,
    });
  };
  await Promise.all(claimed.map(send));
  return pass;
}
