// `npm start` as a library: the database (embedded or DATABASE_URL), the Supabase bootstrap,
// migrations through the Supabase CLI, the functions server, and readiness from `health`.
import { signJwt } from '../shared/jwt.ts';
import { generateWebhookSecret } from './agent-server.ts';
import { startApprovalWebhook, type ApprovalWebhookRelay } from './approval-webhook.ts';
import { startConsumer, type Consumer } from './consumer.ts';
import type { StackConfig } from './config.ts';
import { bootstrap, migrate, waitForDatabase } from './db.ts';
import { startFunctions, type FunctionsServer } from './functions.ts';
import { assertPortFree } from './ports.ts';
import { startEmbeddedPostgres, type EmbeddedPostgres } from './postgres.ts';
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

async function waitForHealth(functionsUrl: string, key: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
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

export async function startStack(config: StackConfig, opts: { durable?: boolean; onFunctionLog?: (line: string) => void } = {}): Promise<RunningStack> {
  const timings: Record<string, number> = {};
  const t0 = performance.now();
  const mark = (name: string) => { timings[name] = Math.round(performance.now() - t0); };

  await assertPortFree(config.apiPort, 'STAGEGATE_API_PORT');
  let pg: EmbeddedPostgres | undefined;
  let functions: FunctionsServer | undefined;
  try {
    if (!config.databaseUrl) await assertPortFree(config.dbPort, 'STAGEGATE_DB_PORT');
    pg = config.databaseUrl ? undefined : await startEmbeddedPostgres({ dataDir: config.dataDir, port: config.dbPort, durable: opts.durable ?? true });
    const dbUrl = config.databaseUrl ?? pg!.url();
    await waitForDatabase(dbUrl);
    mark('database');
    await bootstrap(dbUrl);
    await migrate(dbUrl);
    mark('migrations');
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
    functions = await startFunctions({ projectRoot: config.projectRoot, port: config.apiPort, env, onLog: opts.onFunctionLog });
    mark('functions');
    await waitForHealth(`${apiUrl}/functions/v1`, serviceRoleKey, 10000);
    mark('ready');
    // pg_cron and pg_net stand-ins: the sweeps at their intervals, handoff_requests executed.
    const scheduler: Scheduler = await startScheduler({ dbUrl });
    const consumer: Consumer = await startConsumer({ dbUrl, functionsUrl: `${apiUrl}/functions/v1`, serviceRoleKey }).catch(async (err) => {
      await scheduler.stop();
      throw err;
    });
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
      timings,
      functions: f,
      async stop() {
        if (stopped) return;
        stopped = true;
        await hook?.stop();
        await consumer.stop();
        await scheduler.stop();
        await f.stop();
        await p?.stop();
      },
    };
  } catch (err) {
    await functions?.stop();
    await pg?.stop();
    throw err;
  }
}
