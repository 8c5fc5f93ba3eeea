import { authenticate } from '../../../shared/jwt.ts';

// Response shapes and logging shared by every function. Errors always use the envelope
// { error: { code, message, details } } with a stable code; no stack trace ever leaves here.
export function json(body: unknown, status = 200, headers: HeadersInit = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

export function errorResponse(status: number, code: string, message: string, details: unknown = null, headers: HeadersInit = {}): Response {
  return json({ error: { code, message, details } }, status, headers);
}

export function requestId(request: Request): string {
  const given = request.headers.get('x-request-id');
  return given && /^[\w.:-]{1,128}$/.test(given) ? given : crypto.randomUUID();
}

/** One structured JSON log line; every line carries the request id (and attempt id when known). */
export function log(level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown> = {}): void {
  const line = JSON.stringify({ ts: new Date().toISOString(), level, msg, ...fields });
  if (level === 'error') console.error(line);
  else console.log(line);
}

/** The caller's verified claims, or null (see authenticate in shared/jwt.ts). */
export async function verifiedClaims(request: Request): Promise<Record<string, unknown> | null> {
  const result = await authenticate(request.headers.get('authorization'), {
    jwtSecret: Deno.env.get('STAGEGATE_JWT_SECRET') || Deno.env.get('SUPABASE_JWT_SECRET') || undefined,
    serviceRoleKey: Deno.env.get('SUPABASE_SERVICE_ROLE_KEY') || undefined,
  });
  return result.ok ? result.claims : null;
}
