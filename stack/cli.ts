// `npm start`: bring the local stack up, print what `supabase start` prints, run the demo, and
// keep serving until Ctrl-C or SIGTERM, then stop everything that was started.
import { startAgentServer, type AgentServer } from './agent-server.ts';
import { ConfigError, loadConfig } from './config.ts';
import { demoUserTokens, runDemo, TRY_SD } from './demo.ts';
import { projectRoot } from './db.ts';
import { PortInUseError } from './ports.ts';
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
let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the functions server and ${stack?.embedded ? 'PostgreSQL' : 'nothing else (external database)'}…`);
  await agents?.stop();
  await stack?.stop();
  process.exit(0);
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => void shutdown(signal));

const started = performance.now();
try {
  stack = await startStack(config, { durable: true, onFunctionLog: process.env.STAGEGATE_VERBOSE ? (l) => console.log(`[functions] ${l}`) : undefined });
} catch (err) {
  if (err instanceof PortInUseError) fail({ error: { code: 'PORT_IN_USE', message: err.message, details: { port: err.port, variable: err.variable } } });
  fail({ error: { code: 'STACK_START_FAILED', message: (err as Error).message.split('\n')[0], details: (err as Error).message.split('\n').slice(1).join('\n') || null } });
}
const readySeconds = ((performance.now() - started) / 1000).toFixed(2);

console.log(`
stagegate local stack is running (ready in ${readySeconds} s).

         API URL: ${stack.apiUrl}
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
  const ok = await runDemo({ dbUrl: stack.dbUrl, functionsUrl: stack.functionsUrl, serviceRoleKey: stack.serviceRoleKey, jwtSecret: config.jwtSecret, agentUrl: agents.url, print: (l) => console.log(l) });
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
}
if (stopping) await new Promise(() => {});
console.log('Serving. Press Ctrl-C to stop.');
