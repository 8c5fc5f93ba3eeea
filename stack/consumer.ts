// The local stand-in for the hosted pg_net dispatch of public.handoff_requests: LISTEN for new
// rows, poll for rows that were missed (inserted while no consumer ran, or whose worker died and
// whose lease expired), claim them, POST each to the handoff function with
// Idempotency-Key: handoff-request:<id>, and hand the answer to fn_finish_handoff_request, which
// decides done / error / retry. The key makes a second POST of the same row a replay, so a consumer
// killed anywhere in between can simply be started again.
//
// Also runnable on its own (a process to kill in tests, or next to an existing stack):
//   DATABASE_URL=… STAGEGATE_FUNCTIONS_URL=…/functions/v1 SUPABASE_SERVICE_ROLE_KEY=… tsx stack/consumer.ts
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import postgres from 'postgres';
import { jsonLog, type SweepLog } from './scheduler.ts';

export const HANDOFF_REQUEST_CHANNEL = 'stagegate_handoff_request';

export interface ConsumerOptions {
  dbUrl: string;
  functionsUrl: string;
  serviceRoleKey: string;
  workerId?: string;
  /** How long a claimed row is ours; after that another worker may take it. Default 120 s. */
  leaseMs?: number;
  /** Poll interval for rows no NOTIFY announced. Default 3 s. */
  pollMs?: number;
  /** Handoffs run at once. Default 2. */
  concurrency?: number;
  log?: (entry: SweepLog) => void;
}

export interface HandoffRequestRow {
  id: string;
  sd_id: string;
  handoff_type: string;
  session_id: string;
  attempts: number;
}

export interface Consumer {
  workerId: string;
  stats: { claimed: number; finished: number; failed: number };
  /** Claim and run whatever is due now (what a NOTIFY or the poll timer does). */
  kick: () => void;
  stop: () => Promise<void>;
}

interface Answer { status: number | null; body: unknown }

async function post(o: ConsumerOptions, row: HandoffRequestRow, timeoutMs: number, stopping: AbortSignal): Promise<Answer> {
  let response: Response;
  try {
    response = await fetch(`${o.functionsUrl}/handoff`, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${o.serviceRoleKey}`,
        'content-type': 'application/json',
        'idempotency-key': `handoff-request:${row.id}`,
        // the function runs the row as whoever inserted it (recorded as the way in 'trigger')
        'x-stagegate-handoff-request': row.id,
      },
      body: JSON.stringify({ sd_id: row.sd_id, handoff_type: row.handoff_type, session_id: row.session_id }),
      signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), stopping]),
    });
  } catch (err) {
    return { status: null, body: { error: { code: 'NO_ANSWER', message: String((err as Error).message ?? err) } } };
  }
  const text = await response.text().catch(() => '');
  try {
    return { status: response.status, body: JSON.parse(text) };
  } catch {
    return { status: response.status, body: { error: { code: 'NOT_JSON', message: text.slice(0, 500) } } };
  }
}

export async function startConsumer(o: ConsumerOptions): Promise<Consumer> {
  const workerId = o.workerId ?? `consumer:${randomUUID().slice(0, 8)}`;
  const leaseMs = o.leaseMs ?? 120_000;
  const concurrency = o.concurrency ?? 2;
  // Give up on the HTTP call before the lease ends, so a live worker never races its successor.
  const requestTimeoutMs = Math.max(1000, leaseMs - 5000);
  const log = o.log ?? jsonLog;
  const sql = postgres(o.dbUrl, { max: concurrency + 1, onnotice: () => {}, connect_timeout: 5 });
  const stats = { claimed: 0, finished: 0, failed: 0 };
  const inflight = new Set<Promise<void>>();
  let stopped = false;
  const stopping = new AbortController();
  let pumping = false;
  let again = false;

  const run = async (row: HandoffRequestRow) => {
    const started = performance.now();
    const answer = await post(o, row, requestTimeoutMs, stopping.signal);
    // Stopped mid-call: write nothing back. The row's lease runs out and it is tried again under
    // the same Idempotency-Key, which replays the answer if the handoff did finish.
    if (stopped && answer.status === null) return;
    try {
      const [done] = await sql<{ r: { status: string; changed: boolean } }[]>`
        select public.fn_finish_handoff_request(${row.id}::uuid, ${answer.status}::int, ${sql.json(answer.body as postgres.JSONValue)}) as r`;
      stats.finished++;
      const body = answer.body as { verdict?: string; replay?: boolean; error?: { code?: string } };
      log({ level: done!.r.status === 'error' ? 'warn' : 'info', msg: 'handoff request', worker: workerId, request_id: row.id,
        sd_id: row.sd_id, handoff_type: row.handoff_type, try: row.attempts, http_status: answer.status, row_status: done!.r.status,
        verdict: body.verdict ?? null, replay: body.replay ?? false, error: body.error?.code ?? null, ms: Math.round(performance.now() - started) });
    } catch (err) {
      // The lease runs out and the row is tried again under the same key: nothing is lost.
      stats.failed++;
      log({ level: 'error', msg: 'handoff request not written back', worker: workerId, request_id: row.id, error: (err as Error).message });
    }
  };

  const pump = async (): Promise<void> => {
    if (pumping) { again = true; return; }
    pumping = true;
    try {
      do {
        again = false;
        while (!stopped && inflight.size < concurrency) {
          const rows = await sql<HandoffRequestRow[]>`
            select id, sd_id, handoff_type, session_id, attempts
            from public.fn_claim_handoff_request(${workerId}, ${`${leaseMs} milliseconds`}::interval, ${concurrency - inflight.size}::int)`;
          if (rows.length === 0) break;
          stats.claimed += rows.length;
          for (const row of rows) {
            const p: Promise<void> = run(row).finally(() => { inflight.delete(p); if (!stopped) void pump(); });
            inflight.add(p);
          }
        }
      } while (again && !stopped);
    } catch (err) {
      if (!stopped) log({ level: 'error', msg: 'handoff request claim failed', worker: workerId, error: (err as Error).message });
    } finally {
      pumping = false;
    }
  };
  const kick = () => { if (!stopped) void pump(); };

  // onlisten fires on every (re)connect: catch up on whatever was inserted meanwhile.
  const listener = await sql.listen(HANDOFF_REQUEST_CHANNEL, kick, kick);
  const timer = setInterval(kick, o.pollMs ?? 3000);
  timer.unref();
  log({ level: 'info', msg: 'handoff request consumer started', worker: workerId, lease_ms: leaseMs, concurrency });

  return {
    workerId,
    stats,
    kick,
    async stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      await listener.unlisten().catch(() => {});
      // A handoff in flight is cut off (a stop must take seconds, not a gate's timeout); its row
      // is retried later. One that already has its answer writes it back first.
      stopping.abort();
      await Promise.allSettled([...inflight]);
      await sql.end({ timeout: 2 });
    },
  };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const env = process.env;
  const dbUrl = env.DATABASE_URL;
  const functionsUrl = env.STAGEGATE_FUNCTIONS_URL;
  const serviceRoleKey = env.SUPABASE_SERVICE_ROLE_KEY;
  if (!dbUrl || !functionsUrl || !serviceRoleKey) {
    console.error(JSON.stringify({ error: { code: 'CONFIG_MISSING', message: 'set DATABASE_URL, STAGEGATE_FUNCTIONS_URL and SUPABASE_SERVICE_ROLE_KEY' } }));
    process.exit(1);
  }
  const consumer = await startConsumer({
    dbUrl, functionsUrl, serviceRoleKey,
    workerId: env.STAGEGATE_WORKER_ID,
    leaseMs: env.STAGEGATE_LEASE_MS ? Number(env.STAGEGATE_LEASE_MS) : undefined,
    pollMs: env.STAGEGATE_POLL_MS ? Number(env.STAGEGATE_POLL_MS) : undefined,
    log: (e) => console.log(JSON.stringify(e)),
  });
  const shutdown = () => void consumer.stop().then(() => process.exit(0));
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}
