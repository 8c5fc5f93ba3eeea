// The approval webhook relay: every approval event (request, decision, expiry, override) POSTed to
// a configured URL, signed per Standard Webhooks with the `standardwebhooks` library, so a chat
// bot can ask the approvers. The database keeps the delivery state (approval_webhook_deliveries:
// fn_claim_approval_webhooks leases due events, fn_record_approval_webhook records each attempt
// with exponential retries and, after the last one, the dead-letter record); this loop only sends.
// A receiver should verify the signature and treat a repeated webhook-id as the same event.
import postgres from 'postgres';
import { Webhook } from 'standardwebhooks';
import { jsonLog, type SweepLog } from './scheduler.ts';

export interface ApprovalWebhookOptions {
  dbUrl: string;
  url: string;
  /** Standard Webhooks secret (whsec_…). */
  secret: string;
  pollMs?: number;
  timeoutMs?: number;
  maxAttempts?: number;
  log?: (entry: SweepLog) => void;
}

export interface ApprovalWebhookRelay {
  /** One pass: claim due events, send each, record the outcomes. Returns how many were sent. */
  runOnce: () => Promise<number>;
  stop: () => Promise<void>;
}

interface Claimed { event_id: number; attempt: number; payload: Record<string, unknown> }

export async function startApprovalWebhook(o: ApprovalWebhookOptions): Promise<ApprovalWebhookRelay> {
  const log = o.log ?? jsonLog;
  const signer = new Webhook(o.secret);
  const sql = postgres(o.dbUrl, { max: 2, onnotice: () => {}, connect_timeout: 5, idle_timeout: 60 });
  const maxAttempts = o.maxAttempts ?? 8;
  let stopped = false;
  let pass: Promise<number> | null = null;

  const send = async (c: Claimed): Promise<void> => {
    const id = `approval-event-${c.event_id}`;
    const body = JSON.stringify(c.payload);
    const at = new Date();
    let ok = false;
    let status: number | null = null;
    let error: string | null = null;
    try {
      const response = await fetch(o.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
          'webhook-signature': signer.sign(id, at, body),
        },
        body,
        signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
      });
      status = response.status;
      await response.body?.cancel();
      ok = response.ok;
      if (!ok) error = `HTTP ${response.status}`;
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    const [row] = await sql<{ r: { status: string; attempts: number } }[]>`
      select public.fn_record_approval_webhook(${c.event_id}::bigint, ${ok}, ${status}::int, ${error}, ${maxAttempts}::int) as r`;
    const level = ok ? 'info' : row?.r.status === 'dead' ? 'error' : 'warn';
    log({ level, msg: ok ? 'approval webhook delivered' : row?.r.status === 'dead' ? 'approval webhook dead-lettered' : 'approval webhook failed, will retry',
          event_id: c.event_id, event: c.payload.event, attempt: c.attempt, status, error });
  };

  const runOnce = (): Promise<number> => {
    if (pass) return pass;
    pass = (async () => {
      try {
        const [row] = await sql<{ r: Claimed[] }[]>`select public.fn_claim_approval_webhooks(50, ${Math.ceil((o.timeoutMs ?? 10_000) / 1000) + 5}::int) as r`;
        const claimed = row?.r ?? [];
        await Promise.all(claimed.map(send));
        return claimed.length;
      } finally {
        pass = null;
      }
    })();
    return pass;
  };

  // Every pollMs (the first pass one interval after start); stop() cuts the wait short.
  let wake: () => void = () => {};
  const loop = async () => {
    for (;;) {
      await new Promise<void>((r) => {
        const timer = setTimeout(r, o.pollMs ?? 1000);
        wake = () => { clearTimeout(timer); r(); };
      });
      if (stopped) return;
      await runOnce().catch((err) => log({ level: 'error', msg: 'approval webhook relay failed', error: String(err) }));
    }
  };
  const running = loop();
  return {
    runOnce,
    stop: async () => {
      stopped = true;
      wake();
      await running;
      await pass?.catch(() => {});
      await sql.end({ timeout: 1 });
    },
  };
}
