// The local approval webhook relay: every pollMs, one delivery pass (shared/approval-webhook.ts:
// claim the due approval events, POST each signed per Standard Webhooks, record the outcomes).
// On hosted Supabase the `approval-webhooks` edge function runs the same pass, kicked by the
// 'approval_webhooks' sweep through pg_net.
import postgres from 'postgres';
import { deliverApprovalWebhooks } from '../shared/approval-webhook.ts';
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

export async function startApprovalWebhook(o: ApprovalWebhookOptions): Promise<ApprovalWebhookRelay> {
  const log = o.log ?? jsonLog;
  const sql = postgres(o.dbUrl, { max: 2, onnotice: () => {}, connect_timeout: 5, idle_timeout: 60 });
  const target = { url: o.url, secret: o.secret, timeoutMs: o.timeoutMs ?? 10_000, maxAttempts: o.maxAttempts ?? 8 };
  let stopped = false;
  let pass: Promise<number> | null = null;

  const runOnce = (): Promise<number> => {
    if (pass) return pass;
    pass = deliverApprovalWebhooks(sql, target, (entry) => log({ ...entry }))
      .then((p) => p.claimed)
      .finally(() => { pass = null; });
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
