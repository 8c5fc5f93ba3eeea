// `npm start` as a library: the database (embedded or DATABASE_URL), the Supabase bootstrap,
// migrations through the Supabase CLI, the functions server, and readiness from `health`.
import postgres from 'postgres';
import { signJwt } from '../shared/jwt.ts';
import { generateWebhookSecret } from './agent-server.ts';
import { startApprovalWebhook, type ApprovalWebhookRelay } from './approval-webhook.ts';
import { startConsumer, type Consumer } from './consumer.ts';
import type { StackConfig } from './config.ts';
import { bootstrap, migrate, waitForDatabase } from './db.ts';
import { startFunctions, type FunctionsServer } from './functions.ts';
import { assertPortFree } from './ports.ts';
import { localDataDir, recoverStalePostmaster, startEmbeddedPostgres, type EmbeddedPostgres } from './postgres.ts';
import { startScheduler, type Scheduler } from './scheduler.ts';

export interface RunningStack {
  apiUrl: string;
  functionsUrl: string;
  dbUrl: string;
  anonKey: string;
  serviceRoleKey: string;
  /** Signs requests to http sub-agents (generated when SUBAGENT_SIGNING_SECRET is not set). */
  subagentSigningSecret: string;
  /** Verifies requests to the ops-webhook function (generated when OPS_WEBHOOK_SECRETS is not set). */
  opsWebhookSecrets: string;
  embedded: boolean;
  /** The embedded server's data folder (undefined with DATABASE_URL). */
  dataDir: string | undefined;
  timings: Record<string, number>;
  functions: FunctionsServer;
  stop: () => Promise<void>;
}

// Fixed issue and expiry times, as `supabase start` does, so the printed keys stay the same
// between runs for the same secret.
const ISSUED_AT = 1_700_000_000;
const EXPIRES_AT = 2_000_000_000;

export function localKeys(secret: string): Promise<[string, string]> {
  return Promise.all([
    signJwt({ iss: 'stagegate-local', role: 'anon', iat: ISSUED_AT, exp: EXPIRES_AT }, secret),
    signJwt({ iss: 'stagegate-local', role: 'service_role', iat: ISSUED_AT, exp: EXPIRES_AT }, secret),
  ]);
}

export class NotReadyError extends Error {}

async function checkpointNow(dbUrl: string): Promise<void> {
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    await sql`checkpoint`;
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/** Thrown by startStack when its signal was aborted (SIGTERM during start-up); nothing is left running. */
export class StartAbortedError extends Error {
  constructor() { super('start-up interrupted'); }
}

async function waitForHealth(functionsUrl: string, key: string, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline && !signal?.aborted) {
    try {
      const response = await fetch(`${functionsUrl}/health`, { headers: { authorization: `Bearer ${key}` } });
      const body = (await response.json()) as { status?: string; preflight?: { missing?: string[] }; database?: { reachable?: boolean }; config?: { ok?: boolean; problems?: { variable: string; message: string }[] } };
      if (response.status === 200 && body.status === 'ok') return;
      if (body.config?.ok === false) {
        last = `invalid function settings: ${body.config.problems?.map((p) => `${p.variable}: ${p.message}`).join('; ')}`;
        break;
      }
      last = body.database?.reachable === false ? 'database unreachable' : `pre-flight probe failed: missing ${body.preflight?.missing?.join(', ') || 'migration history'}`;
      // A missing RPC will not appear by waiting: report it at once.
      if (body.database?.reachable) break;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new NotReadyError(`stack not ready: ${last}`);
}

export interface StartOptions {
  durable?: boolean;
  onFunctionLog?: (line: string) => void;
  /** Progress, one line per step ("Applying migrations…"), and what was recovered. */
  onStatus?: (line: string) => void;
  /** Aborting stops the start-up where it is, stops what it had started and rejects with StartAbortedError. */
  signal?: AbortSignal;
}

export async function startStack(config: StackConfig, opts: StartOptions = {}): Promise<RunningStack> {
  const timings: Record<string, number> = {};
  const t0 = performance.now();
  const mark = (name: string) => { timings[name] = Math.round(performance.now() - t0); };
  const status = opts.onStatus ?? (() => {});
  const checkpoint = () => { if (opts.signal?.aborted) throw new StartAbortedError(); };

  await assertPortFree(config.apiPort, 'STAGEGATE_API_PORT');
  let pg: EmbeddedPostgres | undefined;
  let functions: FunctionsServer | undefined;
  let dataDir: string | undefined;
  try {
    if (!config.databaseUrl) {
      const where = localDataDir(config);
      dataDir = where.dataDir;
      status(`Data folder: ${dataDir}${where.unreachable ? ` (the postgres user cannot reach ${where.unreachable}; npm run reset finds this one too)` : ''}`);
      // A server left behind by a crashed run would hold the port: recover before checking it.
      const recovered = await recoverStalePostmaster(dataDir);
      if (recovered) status(`Recovered: ${recovered}`);
      await assertPortFree(config.dbPort, 'STAGEGATE_DB_PORT');
      checkpoint();
      status('Starting PostgreSQL…');
      pg = await startEmbeddedPostgres({ dataDir, port: config.dbPort, durable: opts.durable ?? true });
    }
    const dbUrl = config.databaseUrl ?? pg!.url();
    checkpoint();
    await waitForDatabase(dbUrl, 15000, opts.signal);
    mark('database');
    checkpoint();
    await bootstrap(dbUrl);
    status('Applying migrations…');
    await migrate(dbUrl, opts.signal);
    // A checkpoint now writes and fsyncs what the migrations changed (a cold start touches some
    // 250 files), so the shutdown checkpoint at stop has next to nothing left: a stop stays fast
    // on a busy disk instead of waiting on hundreds of fsyncs.
    if (pg) await checkpointNow(dbUrl);
    mark('migrations');
    checkpoint();
    const apiUrl = `http://127.0.0.1:${config.apiPort}`;
    const [anonKey, serviceRoleKey] = await localKeys(config.jwtSecret);
    const subagentSigningSecret = config.subagentSigningSecret ?? generateWebhookSecret();
    // The ops webhook's secrets (comma-separated whsec_… values, several while rotating).
    const opsWebhookSecrets = config.opsWebhookSecrets ?? generateWebhookSecret();
    const env: Record<string, string> = {
      SUBAGENT_SIGNING_SECRET: subagentSigningSecret,
      SUPABASE_URL: apiUrl,
      SUPABASE_ANON_KEY: anonKey,
      SUPABASE_SERVICE_ROLE_KEY: serviceRoleKey,
      SUPABASE_DB_URL: dbUrl,
      STAGEGATE_JWT_SECRET: config.jwtSecret,
    };
    env.OPS_WEBHOOK_SECRETS = opsWebhookSecrets;
    status('Starting the functions server…');
    functions = await startFunctions({ projectRoot: config.projectRoot, port: config.apiPort, env, onLog: opts.onFunctionLog, signal: opts.signal });
    mark('functions');
    checkpoint();
    await waitForHealth(`${apiUrl}/functions/v1`, serviceRoleKey, 10000, opts.signal);
    checkpoint();
    mark('ready');
    // pg_cron and pg_net stand-ins: the sweeps at their intervals, handoff_requests executed.
    const scheduler: Scheduler = await startScheduler({ dbUrl });
    const consumer: Consumer = await startConsumer({ dbUrl, functionsUrl: `${apiUrl}/functions/v1`, serviceRoleKey }).catch(async (err) => {
      await scheduler.stop();
      throw err;
    });
    if (opts.signal?.aborted) {
      await Promise.allSettled([consumer.stop(), scheduler.stop()]);
      checkpoint();
    }
    // approvals: the webhook relay, when a URL and secret are configured
    const hook: ApprovalWebhookRelay | undefined = config.approvalWebhook
      ? await startApprovalWebhook({ dbUrl, ...config.approvalWebhook })
      : undefined;
    const f = functions;
    const p = pg;
    let stopped = false;
    return {
      apiUrl,
      functionsUrl: `${apiUrl}/functions/v1`,
      dbUrl,
      anonKey,
      serviceRoleKey,
      subagentSigningSecret,
      opsWebhookSecrets,
      embedded: pg !== undefined,
      dataDir,
      timings,
      functions: f,
      async stop() {
        if (stopped) return;
        stopped = true;
        // Fast, whatever is going on: first everything that holds connections (the consumer
        // abandons a handoff in flight, its row is retried later under the same key), then the
        // functions server, then PostgreSQL in fast mode (it does not wait for clients).
        await Promise.allSettled([consumer.stop(), scheduler.stop(), hook?.stop()]);
        await f.stop();
        await p?.stop();
      },
    };
  } catch (err) {
    await functions?.stop();
    await pg?.stop();
    if (opts.signal?.aborted) throw new StartAbortedError();
    throw err;
  }
}
