// `npm start`: bring the local stack up, print what `supabase start` prints, run the demo, and
// keep serving until Ctrl-C or SIGTERM, then stop everything that was started.
//
// Stopping is safe at any moment: a signal during start-up aborts it (the steps already done are
// undone), during the demo it cuts the demo short, and any uncaught error stops the stack before
// the process exits. If this process is killed outright (SIGKILL), the watchdogs of
// stack/processes.ts stop PostgreSQL (fast shutdown) and the functions server.
import { startAgentServer, type AgentServer } from './agent-server.ts';
import { ConfigError, loadConfig, type StackConfig } from './config.ts';
import { consoleConfigFor, ensureConsoleBuilt, startConsoleServer, type ConsoleServer } from './console.ts';
import { demoUserTokens, runDemo, TRY_SD } from './demo.ts';
import { projectRoot } from './db.ts';
import { assertPortFree, PortInUseError } from './ports.ts';
import { StartAbortedError, startStack, type RunningStack } from './stack.ts';

function fail(body: unknown): never {
  console.error(JSON.stringify(body));
  process.exit(1);
}

let config: StackConfig;
try {
  config = loadConfig(process.env, projectRoot);
} catch (err) {
  if (err instanceof ConfigError) fail(err.toJSON());
  throw err;
}

let stack: RunningStack | undefined;
let agents: AgentServer | undefined;
let consoleServer: ConsoleServer | undefined;
let startup: Promise<RunningStack> | undefined;
const abort = new AbortController();
let stopping = false;

async function shutdown(reason: string, exitCode: number) {
  if (stopping) return;
  stopping = true;
  console.log(`\n${reason}: stopping the functions server and ${config.databaseUrl ? 'nothing else (external database)' : 'PostgreSQL'}…`);
  // Whatever is still running below (start-up, the demo) sees the abort and unwinds.
  abort.abort();
  // A second signal while stopping, or a stop that hangs, must still end the process; the
  // watchdogs then take care of the children.
  setTimeout(() => { console.error('stopping took more than 30 s: exiting; the watchdogs stop what is left'); process.exit(exitCode || 1); }, 30000).unref();
  try {
    await agents?.stop();
    await consoleServer?.stop();
    const running = stack ?? (await startup?.catch(() => undefined));
    await running?.stop();
  } catch (err) {
    console.error(JSON.stringify({ error: { code: 'STOP_FAILED', message: String((err as Error)?.message ?? err) } }));
    exitCode ||= 1;
  }
  process.exit(exitCode);
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void shutdown(signal, 0));
// An error nobody caught: say what it was in one line, then stop everything, exit 1.
const crash = (err: unknown) => {
  console.error(JSON.stringify({ error: { code: 'STACK_CRASHED', message: String((err as Error)?.message ?? err).split('\n')[0] } }));
  void shutdown('error', 1);
};
process.on('uncaughtException', crash);
process.on('unhandledRejection', crash);

const started = performance.now();
try {
  await assertPortFree(config.consolePort, 'STAGEGATE_CONSOLE_PORT');
  // the console is a static build of console/ (Vite); rebuilt only when its sources changed
  await ensureConsoleBuilt(projectRoot);
  startup = startStack(config, {
    durable: true,
    signal: abort.signal,
    onStatus: (line) => console.log(line),
    onFunctionLog: process.env.STAGEGATE_VERBOSE ? (l) => console.log(`[functions] ${l}`) : undefined,
  });
  stack = await startup;
} catch (err) {
  if (err instanceof StartAbortedError || stopping) await new Promise(() => {}); // shutdown() exits
  if (err instanceof PortInUseError) fail({ error: { code: 'PORT_IN_USE', message: err.message, details: { port: err.port, variable: err.variable } } });
  fail({ error: { code: 'STACK_START_FAILED', message: (err as Error).message.split('\n')[0], details: (err as Error).message.split('\n').slice(1).join('\n') || null } });
}
try {
  // Demo identities only while the stack signs with the well-known local secret.
  const consoleConfig = await consoleConfigFor({ apiUrl: stack.apiUrl, anonKey: stack.anonKey, serviceRoleKey: stack.serviceRoleKey, jwtSecret: config.jwtSecret });
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
          DB URL: ${stack.dbUrl}${stack.embedded ? '' : ' (DATABASE_URL)'}${stack.dataDir ? `\n     Data folder: ${stack.dataDir}` : ''}
        anon key: ${stack.anonKey}
service_role key: ${stack.serviceRoleKey}
 ops webhook key: ${stack.opsWebhookSecrets}${process.env.OPS_WEBHOOK_SECRETS ? ' (OPS_WEBHOOK_SECRETS)' : ' (generated for this run)'}

Try it:
  curl -s -H "Authorization: Bearer ${stack.serviceRoleKey}" ${stack.functionsUrl}/health
`);

if (config.demo && !stopping) {
  agents = await startAgentServer({ secret: stack.subagentSigningSecret });
  try {
    const ok = await runDemo({ dbUrl: stack.dbUrl, functionsUrl: stack.functionsUrl, serviceRoleKey: stack.serviceRoleKey, jwtSecret: config.jwtSecret, agentUrl: agents.url, signal: abort.signal, print: (l) => console.log(l) });
    console.log(ok ? '\nDemo finished: every handoff was accepted, the LEAD\'s PLAN-only request was refused, and a planner\'s approval moved SD-DEMO-004.' : '\nDemo finished with an unexpected answer (see above).');
    // Minted with this stack's JWT secret, which its functions verify: valid here only.
    const users = await demoUserTokens(config.jwtSecret);
    console.log('\nDemo users (tokens signed with this stack\'s JWT secret):');
    for (const { user, token } of users) console.log(`  ${user.email.padEnd(28)} ${user.role.padEnd(6)} of demo-${user.team}: ${token}`);
    const lead = users.find((u) => u.user.name === 'lead')!.token;
    console.log(`
Run one yourself, as the LEAD (accepted), then a PLAN-only handoff as the LEAD (403 ROLE_NOT_ALLOWED):
  curl -s -X POST ${stack.functionsUrl}/handoff -H "Authorization: Bearer ${lead}" -H "Content-Type: application/json" \\
    -d '{"sd_id":"${TRY_SD}","handoff_type":"lead-to-plan","session_id":"my-session"}'
  curl -s -X POST ${stack.functionsUrl}/handoff -H "Authorization: Bearer ${lead}" -H "Content-Type: application/json" \\
    -d '{"sd_id":"${TRY_SD}","handoff_type":"plan-to-exec","session_id":"my-session"}'
`);
  } catch (err) {
    // Stopped mid-demo: the demo's requests were cut off on purpose; nothing to report.
    if (!stopping) {
      console.log(`\nThe demo stopped with an error: ${String((err as Error)?.message ?? err)}`);
    }
  }
}
if (stopping) await new Promise(() => {});
console.log('Serving. Press Ctrl-C to stop.');
