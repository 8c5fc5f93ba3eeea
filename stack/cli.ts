// `npm start`: bring the local stack up, print what `supabase start` prints, run the demo, and
// keep serving until Ctrl-C or SIGTERM, then stop everything that was started.
import { startAgentServer, type AgentServer } from './agent-server.ts';
import { ConfigError, loadConfig } from './config.ts';
import { consoleConfigFor, ensureConsoleBuilt, startConsoleServer, type ConsoleServer } from './console.ts';
import { runDemo } from './demo.ts';
import { projectRoot } from './db.ts';
import { assertPortFree, PortInUseError } from './ports.ts';
import { startStack, type RunningStack } from './stack.ts';

function fail(body: unknown): never {
  console.error(JSON.stringify(body));
  process.exit(1);
}

let config;
try {
  config = loadConfig(process.env, projectRoot);
} catch (err) {
  if (err instanceof ConfigError) fail(err.toJSON());
  throw err;
}

let stack: RunningStack | undefined;
let agents: AgentServer | undefined;
let consoleServer: ConsoleServer | undefined;
let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the functions server and ${stack?.embedded ? 'PostgreSQL' : 'nothing else (external database)'}…`);
  await agents?.stop();
  await consoleServer?.stop();
  await stack?.stop();
  process.exit(0);
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void shutdown(signal));

const started = performance.now();
try {
  await assertPortFree(config.consolePort, 'STAGEGATE_CONSOLE_PORT');
  // the console is a static build of console/ (Vite); rebuilt only when its sources changed
  await ensureConsoleBuilt(projectRoot);
  stack = await startStack(config, { durable: true, onFunctionLog: process.env.STAGEGATE_VERBOSE ? (l) => console.log(`[functions] ${l}`) : undefined });
} catch (err) {
  if (err instanceof PortInUseError) fail({ error: { code: 'PORT_IN_USE', message: err.message, details: { port: err.port, variable: err.variable } } });
  fail({ error: { code: 'STACK_START_FAILED', message: (err as Error).message.split('\n')[0], details: (err as Error).message.split('\n').slice(1).join('\n') || null } });
}
try {
  // Demo identities only while the stack signs with the well-known local secret.
  const consoleConfig = consoleConfigFor({ apiUrl: stack.apiUrl, anonKey: stack.anonKey, serviceRoleKey: stack.serviceRoleKey, jwtSecret: config.jwtSecret });
  consoleServer = await startConsoleServer({ projectRoot, port: config.consolePort, config: consoleConfig });
} catch (err) {
  await stack.stop();
  if (err instanceof PortInUseError) fail({ error: { code: 'PORT_IN_USE', message: err.message, details: { port: err.port, variable: err.variable } } });
  fail({ error: { code: 'STACK_START_FAILED', message: `console: ${(err as Error).message}`, details: null } });
}
const readySeconds = ((performance.now() - started) / 1000).toFixed(2);

console.log(`
stagegate local stack is running (ready in ${readySeconds} s).

         API URL: ${stack.apiUrl}
     Console URL: ${consoleServer.url}
   Functions URL: ${stack.functionsUrl}
          DB URL: ${stack.dbUrl}${stack.embedded ? '' : ' (DATABASE_URL)'}
        anon key: ${stack.anonKey}
service_role key: ${stack.serviceRoleKey}
 ops webhook key: ${stack.opsWebhookSecrets}${process.env.OPS_WEBHOOK_SECRETS ? ' (OPS_WEBHOOK_SECRETS)' : ' (generated for this run)'}

Try it:
  curl -s -H "Authorization: Bearer ${stack.serviceRoleKey}" ${stack.functionsUrl}/health
`);

if (config.demo) {
  agents = await startAgentServer({ secret: stack.subagentSigningSecret });
  const ok = await runDemo({ dbUrl: stack.dbUrl, functionsUrl: stack.functionsUrl, serviceRoleKey: stack.serviceRoleKey, agentUrl: agents.url, print: (l) => console.log(l) });
  console.log(ok ? '\nDemo finished: every handoff was accepted.' : '\nDemo finished with a handoff that was not accepted (see above).');
  console.log(`Run one yourself:
  curl -s -X POST ${stack.functionsUrl}/handoff -H "Authorization: Bearer ${stack.serviceRoleKey}" -H "Content-Type: application/json" \\
    -d '{"sd_id":"SD-DEMO-002","handoff_type":"lead-to-plan","session_id":"my-session"}'
`);
}
if (stopping) await new Promise(() => {});
console.log('Serving. Press Ctrl-C to stop.');
