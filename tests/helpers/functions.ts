// e2e helpers: a functions server (the real Deno runtime through stack/edge-runtime.ts) in front
// of a database of the test file's own, and real supabase-js clients for it.
import { createClient, type SupabaseClient } from '@supabase/supabase-js';
import WebSocket from 'ws';
import { generateWebhookSecret, startAgentServer, type AgentServer } from '../../stack/agent-server.ts';
import { projectRoot } from '../../stack/db.ts';
import { startFunctions, type FunctionsServer } from '../../stack/functions.ts';
import { freePort } from '../../stack/ports.ts';
import { localKeys } from '../../stack/stack.ts';
import { freshDatabase, type FreshDatabase } from './db.ts';

export const TEST_JWT_SECRET = 'test-secret-that-is-at-least-32-characters-long';

export interface TestFunctions {
  url: string;
  functionsUrl: string;
  anonKey: string;
  serviceRoleKey: string;
  server: FunctionsServer;
  logs: string[];
  /** The first JSON log line that matches, waiting for it: the server's stdout arrives after its HTTP answer. */
  logLine: (match: (line: Record<string, unknown>) => boolean, timeoutMs?: number) => Promise<Record<string, unknown> | undefined>;
  client: (key: string) => SupabaseClient;
  stop: () => Promise<void>;
}

export async function startTestFunctions(dbUrl: string, extraEnv: Record<string, string> = {}): Promise<TestFunctions> {
  const port = await freePort();
  const [anonKey, serviceRoleKey] = await localKeys(TEST_JWT_SECRET);
  const url = `http://127.0.0.1:${port}`;
  const logs: string[] = [];
  const server = await startFunctions({
    projectRoot,
    port,
    env: {
      SUPABASE_URL: url,
      SUPABASE_ANON_KEY: anonKey,
      SUPABASE_SERVICE_ROLE_KEY: serviceRoleKey,
      SUPABASE_DB_URL: dbUrl,
      STAGEGATE_JWT_SECRET: TEST_JWT_SECRET,
      ...extraEnv,
    },
    onLog: (line) => { logs.push(line); if (logs.length > 2000) logs.shift(); },
  });
  return {
    url,
    functionsUrl: `${url}/functions/v1`,
    anonKey,
    serviceRoleKey,
    server,
    logs,
    logLine: async (match, timeoutMs = 5000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        for (const l of logs) {
          let parsed: unknown;
          const start = l.indexOf('{');
          if (start < 0) continue;
          try { parsed = JSON.parse(l.slice(start)); } catch { continue; }
          if (parsed !== null && typeof parsed === 'object' && match(parsed as Record<string, unknown>)) return parsed as Record<string, unknown>;
        }
        if (Date.now() > deadline) return undefined;
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    // Node 20 has no global WebSocket: supabase-js needs the ws transport there.
    client: (key) => createClient(url, key, { realtime: { transport: WebSocket as never }, auth: { persistSession: false, autoRefreshToken: false } }),
    stop: () => server.stop(),
  };
}

export interface HandoffEnvironment {
  db: FreshDatabase;
  agents: AgentServer;
  fns: TestFunctions;
  /** The Standard Webhooks secret the functions sign sub-agent calls with (and the agents check). */
  secret: string;
  stop: () => Promise<void>;
}

/** A database of the file's own, local HTTP sub-agents, and a functions server signing calls to them (with extraEnv added to its environment). */
export async function startHandoffEnvironment(extraEnv: Record<string, string> = {}): Promise<HandoffEnvironment> {
  const secret = generateWebhookSecret();
  const db = await freshDatabase();
  const agents = await startAgentServer({ secret }).catch(async (err) => { await db.drop(); throw err; });
  const fns = await startTestFunctions(db.url, { SUBAGENT_SIGNING_SECRET: secret, ...extraEnv }).catch(async (err) => {
    await agents.stop();
    await db.drop();
    throw err;
  });
  return {
    db, agents, fns, secret,
    stop: async () => {
      await fns.stop();
      await agents.stop();
      await db.drop();
    },
  };
}
