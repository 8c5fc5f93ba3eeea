// The console under `npm start`: build it when its sources changed (Vite, from console/), then
// serve console/dist on loopback with a /config.json that points it at this stack's functions.
// The demo identities are offered only when the stack signs with the well-known local secret: a
// token minted with it is worthless anywhere else.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { demoUserTokens } from './demo.ts';

/** The well-known local secret of `supabase start` (stack/config.ts's default). */
export const LOCAL_JWT_SECRET = 'super-secret-jwt-token-with-at-least-32-characters-long';

export interface ConsoleConfig {
  apiUrl: string;
  anonKey?: string;
  demoUsers?: { label: string; role: string; token: string }[];
}

/**
 * What /config.json tells the console: this stack's API URL and anon key and, only while the
 * stack signs with the well-known local secret, the demo identities to sign in as.
 */
export async function consoleConfigFor(o: { apiUrl: string; anonKey: string; serviceRoleKey: string; jwtSecret: string }): Promise<ConsoleConfig> {
  if (o.jwtSecret !== LOCAL_JWT_SECRET) return { apiUrl: o.apiUrl, anonKey: o.anonKey };
  return { apiUrl: o.apiUrl, anonKey: o.anonKey, demoUsers: await demoIdentities(o.jwtSecret, o.serviceRoleKey, o.anonKey) };
}

/** The demo people (stack/demo.ts: a LEAD, a PLAN, an EXEC, a VIEWER, another team's LEAD), the service role and anon. */
export async function demoIdentities(secret: string, serviceRoleKey: string, anonKey: string): Promise<NonNullable<ConsoleConfig['demoUsers']>> {
  const people = (await demoUserTokens(secret)).map(({ user, token }) => ({ label: user.email, role: `${user.role} of demo-${user.team}`, token }));
  return [...people, { label: 'service role', role: 'service_role', token: serviceRoleKey }, { label: 'anon', role: 'anon', token: anonKey }];
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.json': 'application/json', '.map': 'application/json', '.svg': 'image/svg+xml', '.png': 'image/png',
};

function newest(dir: string): number {
  if (!fs.existsSync(dir)) return 0;
  let latest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) latest = Math.max(latest, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return latest;
}

/** Builds console/dist with Vite when it is missing or older than the console's or shared/'s sources. */
export async function ensureConsoleBuilt(projectRoot: string): Promise<{ built: boolean; ms: number }> {
  const started = performance.now();
  const dist = path.join(projectRoot, 'console', 'dist', 'index.html');
  const sources = Math.max(
    newest(path.join(projectRoot, 'console', 'src')), newest(path.join(projectRoot, 'console', 'public')),
    newest(path.join(projectRoot, 'shared')),
    fs.statSync(path.join(projectRoot, 'console', 'index.html')).mtimeMs,
    fs.statSync(path.join(projectRoot, 'console', 'vite.config.ts')).mtimeMs,
  );
  if (fs.existsSync(dist) && fs.statSync(dist).mtimeMs >= sources) return { built: false, ms: 0 };
  const { build } = await import('vite');
  await build({ configFile: path.join(projectRoot, 'console', 'vite.config.ts'), logLevel: 'warn' });
  return { built: true, ms: Math.round(performance.now() - started) };
}

export interface ConsoleServer { url: string; stop: () => Promise<void> }

/** Serves console/dist and /config.json on 127.0.0.1:port. */
export async function startConsoleServer(opts: { projectRoot: string; port: number; config: ConsoleConfig }): Promise<ConsoleServer> {
  const root = path.join(opts.projectRoot, 'console', 'dist');
  const configJson = JSON.stringify(opts.config);
  const api = new URL(opts.config.apiUrl).origin;
  // Scripts, styles and images only from this origin: proof that nothing comes from a CDN. The
  // API calls go to this stack's functions, or to any loopback or https project a pasted token is for.
  const csp = `default-src 'self'; connect-src 'self' ${api} http://127.0.0.1:* http://localhost:* https:; img-src 'self' data:; style-src 'self'; script-src 'self'; base-uri 'none'; frame-ancestors 'none'`;
  const server = http.createServer((req, res) => {
    const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const headers = { 'content-security-policy': csp, 'x-content-type-options': 'nosniff', 'cache-control': 'no-cache' };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...headers, allow: 'GET, HEAD' }).end();
      return;
    }
    if (pathname === '/config.json') {
      res.writeHead(200, { ...headers, 'content-type': 'application/json' }).end(configJson);
      return;
    }
    const file = path.join(root, pathname === '/' ? 'index.html' : pathname);
    if (!file.startsWith(root + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, { ...headers, 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { ...headers, 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
    fs.createReadStream(file).pipe(res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  return {
    url: `http://127.0.0.1:${port}`,
    stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
