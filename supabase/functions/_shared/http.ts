import { errorBody, mapDbError } from '../../../shared/errors.ts';
import { authenticate } from '../../../shared/jwt.ts';
import { callerFromClaims, type Caller } from '../../../shared/rpc.ts';
import { configRefusal, tokenVerifier } from './config.ts';

// Response shapes and logging shared by every function. Errors always use the envelope
// { error: { code, message, details } } with a stable code; no stack trace ever leaves here.
export function json(body: unknown, status = 200, headers: HeadersInit = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
}

export function errorResponse(status: number, code: string, message: string, details: unknown = null, headers: HeadersInit = {}): Response {
  return json({ error: { code, message, details } }, status, headers);
}

/**
 * The answer to an error thrown while serving `what` (a function's name): its stable code and
 * status from mapDbError, one log line (error for INTERNAL, a warning for a refusal), and
 * retry-after on a 503.
 */
export function failure(err: unknown, rid: string, what: string, extra: Record<string, unknown> = {}): Response {
  const m = mapDbError(err);
  if (m.code === 'INTERNAL') log('error', `${what} failed`, { request_id: rid, error: String(err), ...extra });
  else log('warn', `${what} refused`, { request_id: rid, code: m.code, message: m.message, ...extra });
  return json(errorBody(m.code, m.message, m.details), m.status, m.status === 503 ? { 'retry-after': '1' } : {});
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
    verifier: tokenVerifier(),
    serviceRoleKey: Deno.env.get('SUPABASE_SERVICE_ROLE_KEY') || undefined,
  });
  return result.ok ? result.claims : null;
}

/**
 * The start of every request that calls the database as its caller: the function's settings are
 * valid (503 CONFIG_INVALID), the token verifies (401), and its role is one the database serves
 * (403 for anon and other roles; what each caller may then do is for SQL to decide).
 */
export async function authorisedCaller(request: Request, refusal: string): Promise<{ claims: Record<string, unknown>; caller: Caller } | { response: Response }> {
  const refused = configRefusal();
  if (refused) return { response: refused };
  const claims = await verifiedClaims(request);
  if (!claims) return { response: errorResponse(401, 'UNAUTHORIZED', 'a valid JWT is required') };
  const caller = callerFromClaims(claims, 'http');
  if (!caller) return { response: errorResponse(403, 'FORBIDDEN', `role '${String(claims.role)}' ${refusal}`) };
  return { claims, caller };
}

export const MAX_BODY_BYTES = 64 * 1024;

export type BodyRead = { ok: true; text: string } | { ok: false; response: Response };

function tooLarge(limit: number, how: 'content-length' | 'stream', bytes: number, rid: string | undefined): Response {
  log('warn', 'request body refused', { request_id: rid, code: 'PAYLOAD_TOO_LARGE', how, limit_bytes: limit, ...(how === 'stream' ? { read_bytes: bytes } : { declared_bytes: bytes }) });
  return errorResponse(413, 'PAYLOAD_TOO_LARGE', `the body is larger than ${limit} bytes`, { limit_bytes: limit }, { connection: 'close' });
}

/**
 * Reads a request body of at most `limit` bytes, for every function that reads one. A declared
 * Content-Length above the limit is refused before a byte is read; a body without one (chunked)
 * is read as a stream and cut off at the limit, so a large or endless body never sits in memory.
 */
export async function readBody(request: Request, limit = MAX_BODY_BYTES, rid?: string): Promise<BodyRead> {
  const declared = request.headers.get('content-length');
  if (declared !== null) {
    if (!/^\d{1,15}$/.test(declared.trim())) {
      await request.body?.cancel().catch(() => {});
      return { ok: false, response: errorResponse(400, 'INVALID_INPUT', 'Content-Length is not a byte count') };
    }
    if (Number(declared) > limit) {
      await request.body?.cancel().catch(() => {});
      return { ok: false, response: tooLarge(limit, 'content-length', Number(declared), rid) };
    }
  }
  if (!request.body) return { ok: true, text: '' };
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        return { ok: false, response: tooLarge(limit, 'stream', size, rid) };
      }
      chunks.push(value);
    }
  } catch {
    return { ok: false, response: errorResponse(400, 'INVALID_INPUT', 'the request body could not be read') };
  } finally {
    reader.releaseLock();
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) { bytes.set(c, at); at += c.byteLength; }
  return { ok: true, text: new TextDecoder().decode(bytes) };
}

/**
 * A JSON request body: 415 unless the content type is application/json, the size rules of
 * readBody, 400 INVALID_INPUT when it does not parse. Shapes are checked by the caller's zod schema.
 */
export async function readJson(request: Request, rid: string, limit = MAX_BODY_BYTES): Promise<{ ok: true; body: unknown } | { ok: false; response: Response }> {
  if (!/^application\/json\b/i.test(request.headers.get('content-type') ?? '')) {
    await request.body?.cancel().catch(() => {});
    return { ok: false, response: errorResponse(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the request body as application/json') };
  }
  const read = await readBody(request, limit, rid);
  if (!read.ok) return read;
  try {
    return { ok: true, body: JSON.parse(read.text) };
  } catch {
    return { ok: false, response: errorResponse(400, 'INVALID_INPUT', 'the body is not valid JSON') };
  }
}
