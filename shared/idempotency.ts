// Deterministic keys (seed pattern 6) and request fingerprints, on crypto.subtle so the same
// code runs in Deno and Node.

export const HOUR_MS = 60 * 60 * 1000;

type Instant = Date | number;

export function hourBucket(now: Instant = Date.now()): number {
  const ms = typeof now === 'number' ? now : now.getTime();
  return Math.floor(ms / HOUR_MS);
}

export async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * `idmp_<code>_<32 hex>` over SD, sub-agent code, session, phase and the hour bucket: a retry
 * within the hour reuses the recorded result; a run an hour later is a fresh execution.
 */
export async function subAgentIdempotencyKey(input: {
  sdId: string;
  code: string;
  sessionId?: string | null;
  phase?: string | null;
  now?: Instant;
}): Promise<string> {
  const parts = [
    input.sdId,
    input.code,
    input.sessionId || 'no-session',
    input.phase || 'orchestrated',
    String(hourBucket(input.now)),
  ];
  const hash = await sha256Hex(parts.join('::'));
  return `idmp_${input.code}_${hash.slice(0, 32)}`;
}

/** JSON with object keys sorted at every depth, so key order never changes a fingerprint. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value)) ?? 'null';
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : sortKeys(v)));
  if (typeof value !== 'object' || value === null) return value;
  if (typeof (value as { toJSON?: unknown }).toJSON === 'function') {
    return sortKeys((value as { toJSON: () => unknown }).toJSON());
  }
  // null prototype: a "__proto__" key is data here, not the prototype (JSON.parse makes it an own key too)
  const out: Record<string, unknown> = Object.create(null);
  for (const key of Object.keys(value).sort()) {
    out[key] = sortKeys((value as Record<string, unknown>)[key]);
  }
  return out;
}

/** sha256 hex of the canonical JSON: compares an Idempotency-Key's original body with a retry's. */
export async function requestFingerprint(body: unknown): Promise<string> {
  return await sha256Hex(canonicalJson(body)); // await: a circular body rejects instead of throwing
}

/**
 * Request id when the client sent no Idempotency-Key: same SD, handoff type, session and hour
 * → same id, so a blind client retry is deduplicated. Shaped as a UUID (version 8, RFC 9562)
 * so it fits a uuid column as well as a text one.
 */
export async function deriveRequestId(input: {
  sdId: string;
  handoffType: string;
  sessionId?: string | null;
  now?: Instant;
}): Promise<string> {
  const hex = await sha256Hex(
    ['handoff', input.sdId, input.handoffType, input.sessionId || 'no-session', String(hourBucket(input.now))].join('::'),
  );
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * The Idempotency-Key scope of a caller: the function, the role and a digest of the subject.
 * Hashed so that any `sub` fits the scope column (1..255 printable ASCII): a raw `sub` of more
 * than about 230 characters, or one outside ASCII, used to make every keyed request a 400.
 */
export async function idempotencyScope(fn: string, role: string, sub: string | undefined): Promise<string> {
  return `${fn}:${role}:${await sha256Hex(`${role}\n${sub ?? ''}`)}`;
}

/** Error codes the same request body always gets again, whatever the data: stored under a key. */
export const FINAL_ERROR_CODES: ReadonlySet<string> = new Set(['INVALID_INPUT', 'UNKNOWN_HANDOFF_TYPE']);

/**
 * Whether an answer is final for its body and may be stored under its Idempotency-Key: every 2xx
 * but 202 (a handoff waiting for approval)
 * (a rejected verdict is an answer too), and only the 4xx whose code the same body always gets.
 * A 409 WRONG_PHASE, SD_BUSY, CLAIMED_BY_OTHER_SESSION, VERSION_CONFLICT, a 404 SD_NOT_FOUND
 * or a 403 depend on the data and the moment: a retry with the same key must run again.
 */
export function isFinalAnswer(status: number, body: unknown): boolean {
  // 202: a handoff waiting for approval; a retry answers with the attempt as it is by then
  if (status === 202) return false;
  if (status >= 200 && status < 300) return true;
  if (status < 400 || status >= 500) return false;
  const code = (body as { error?: { code?: unknown } } | null)?.error?.code;
  return typeof code === 'string' && FINAL_ERROR_CODES.has(code);
}
