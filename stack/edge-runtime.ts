// The local stand-in for Supabase's edge runtime and API gateway, run by the Deno binary from the
// `deno` npm package. It loads every function folder's index.ts, captures the handler the
// function passes to Deno.serve (the hosted convention), and serves them all on one port under
// /functions/v1/<name>, checking the JWT first where config.toml says verify_jwt = true — the
// same rule the hosted gateway applies. There is no switch to turn the check off: a function
// that should be public says verify_jwt = false in config.toml, as on hosted Supabase.
import { parseFunctionEnv } from '../shared/function-config.ts';
import { bearerToken, jwtVerifier } from '../shared/jwt.ts';

type Handler = (request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => Response | Promise<Response>;
interface FunctionSpec { name: string; entry: string; verifyJwt: boolean }

const specs = JSON.parse(Deno.env.get('STAGEGATE_FUNCTIONS') ?? '[]') as FunctionSpec[];
const jwtSecret = Deno.env.get('STAGEGATE_JWT_SECRET') ?? '';
const port = Number(Deno.env.get('STAGEGATE_API_PORT') ?? '54321');
if (jwtSecret.length < 32) throw new Error('STAGEGATE_JWT_SECRET must be at least 32 characters');
// The gateway accepts what the functions accept: the local secret, and the asymmetric keys of
// SUPABASE_JWKS / STAGEGATE_JWKS_URL when given (never SUPABASE_URL's, which is this server). A
// bad setting leaves the gateway on the secret alone; the functions refuse and health says why.
const fnEnv = parseFunctionEnv(Deno.env.toObject());
const verifyToken = jwtVerifier({
  secret: jwtSecret,
  ...(fnEnv.ok ? {
    jwks: fnEnv.env.SUPABASE_JWKS,
    jwksUrl: fnEnv.env.STAGEGATE_JWKS_URL,
    jwksCacheMs: fnEnv.env.STAGEGATE_JWKS_CACHE_MS,
    issuers: fnEnv.env.STAGEGATE_JWT_ISSUER,
    userAudience: fnEnv.env.STAGEGATE_JWT_AUDIENCE,
  } : {}),
});

const handlers = new Map<string, { handler: Handler; verifyJwt: boolean }>();
const realServe = Deno.serve;
let captured: Handler | undefined;
// deno-lint-ignore no-explicit-any
(Deno as any).serve = (a: unknown, b?: unknown) => {
  const pick = (x: unknown): Handler | undefined =>
    typeof x === 'function' ? (x as Handler) : (x as { handler?: Handler } | undefined)?.handler;
  captured = pick(b) ?? pick(a);
  return { finished: new Promise(() => {}), shutdown: () => Promise.resolve(), ref() {}, unref() {}, addr: { transport: 'tcp', hostname: '127.0.0.1', port } };
};
for (const spec of specs) {
  captured = undefined;
  await import(spec.entry);
  if (!captured) throw new Error(`function '${spec.name}' did not call Deno.serve`);
  handlers.set(spec.name, { handler: captured, verifyJwt: spec.verifyJwt });
}
// deno-lint-ignore no-explicit-any
(Deno as any).serve = realServe;

function gatewayError(status: number, code: string, message: string): Response {
  return Response.json({ error: { code, message, details: null } }, { status });
}

const server = Deno.serve({ port, hostname: '127.0.0.1', onListen: () => console.log(JSON.stringify({ level: 'info', msg: 'edge runtime listening', port, functions: [...handlers.keys()] })) }, async (request, info) => {
  const url = new URL(request.url);
  const match = /^\/functions\/v1\/([A-Za-z0-9_-]+)(\/.*)?$/.exec(url.pathname);
  const fn = match ? handlers.get(match[1] ?? '') : undefined;
  if (!match || !fn) return gatewayError(404, 'FUNCTION_NOT_FOUND', `no function at ${url.pathname}`);
  // A CORS preflight carries no token; as on hosted Supabase it reaches the function, which answers it.
  if (fn.verifyJwt && request.method !== 'OPTIONS') {
    const token = bearerToken(request.headers.get('authorization'));
    if (!token) return gatewayError(401, 'UNAUTHORIZED', 'missing authorization header: Bearer <JWT>');
    const check = await verifyToken(token);
    if (!check.ok) return gatewayError(401, 'UNAUTHORIZED', `invalid JWT: ${check.reason}`);
  }
  try {
    return await fn.handler(request, info);
  } catch (err) {
    // A function should never throw; if one does, the client still gets the error envelope.
    console.error(JSON.stringify({ level: 'error', msg: 'unhandled function error', function: match[1], error: String(err) }));
    return gatewayError(500, 'INTERNAL', 'internal error');
  }
});

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  Deno.addSignalListener(signal, () => { server.shutdown().finally(() => Deno.exit(0)); });
}
