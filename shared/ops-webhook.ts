// POST /functions/v1/ops-webhook: operations requests signed per the Standard Webhooks
// specification. This module holds the bodies (zod), the secret format, the signature and
// timestamp check (crypto.subtle.verify: constant time, no `===` on a signature) and what an
// Alertmanager payload asks for. Pure and runtime-agnostic; the function does the I/O.
import { z } from 'zod';
import { VALIDATION_MODES, ModeReadSchema } from './mode-cache.ts';
import { safeProse } from './safe-text.ts';

export const WEBHOOK_TOLERANCE_SECONDS = 5 * 60;
export const MIN_SECRET_BYTES = 32;
export const DEFAULT_DEMOTE_ALERTS = ['EnforceGateUnknownRateHigh', 'StageValidatorLatencyRegression'] as const;

const Scope = z.string().regex(/^(\*|[a-z][a-z0-9_-]{0,39})$/, "'*' (global) or an sd_type such as 'feature'");

// ---------------------------------------------------------------------------------- bodies
export const OpsModeRequestSchema = z
  .strictObject({
    mode: z.enum(VALIDATION_MODES),
    scope: Scope.default('*').describe("'*' for the global mode, or an sd_type for its override"),
    reason: safeProse().trim().min(1).max(500).describe('Why; recorded in the audit of mode changes'),
    force: z.boolean().default(false).describe('Override a refused promotion to ENFORCE (audited as forced)'),
  })
  .meta({ id: 'OpsModeRequest', description: 'Set a validation mode' });
export type OpsModeRequest = z.output<typeof OpsModeRequestSchema>;

const Labels = z.record(safeProse().max(1000), safeProse().max(10_000));

/** Prometheus Alertmanager's webhook payload (version 4); unknown fields are allowed. */
export const AlertmanagerPayloadSchema = z
  .looseObject({
    version: z.literal('4'),
    groupKey: z.string().optional(),
    truncatedAlerts: z.number().int().optional(),
    status: z.enum(['firing', 'resolved']),
    receiver: z.string().optional(),
    groupLabels: Labels.optional(),
    commonLabels: Labels.optional(),
    commonAnnotations: Labels.optional(),
    externalURL: z.string().optional(),
    alerts: z.array(z.looseObject({
      status: z.enum(['firing', 'resolved']),
      labels: z.object({ alertname: safeProse().min(1).max(1000) }).catchall(safeProse().max(10_000))
        .describe('alertname, plus optional scope or sd_type to demote one sd_type only'),
      annotations: Labels.optional(),
      startsAt: z.string().optional(),
      endsAt: z.string().optional(),
      generatorURL: z.string().optional(),
      fingerprint: z.string().optional(),
    })).max(1000),
  })
  .meta({ id: 'AlertmanagerPayload', description: 'Prometheus Alertmanager webhook payload (version 4)' });
export type AlertmanagerPayload = z.output<typeof AlertmanagerPayloadSchema>;

export type OpsBody = { kind: 'mode'; value: OpsModeRequest } | { kind: 'alertmanager'; value: AlertmanagerPayload };
export type OpsBodyResult = { ok: true; body: OpsBody } | { ok: false; message: string; issues: { path: string; message: string }[] };

/** An object with `alerts` or `version` is read as Alertmanager's, anything else as a mode request. */
export function parseOpsBody(body: unknown): OpsBodyResult {
  const isAlertmanager = typeof body === 'object' && body !== null && ('alerts' in body || 'version' in body);
  const parsed = isAlertmanager ? AlertmanagerPayloadSchema.safeParse(body) : OpsModeRequestSchema.safeParse(body);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(body)', message: i.message }));
    const what = isAlertmanager ? 'Alertmanager payload' : 'mode request';
    return { ok: false, message: `Invalid ${what}: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues };
  }
  return { ok: true, body: isAlertmanager ? { kind: 'alertmanager', value: parsed.data as AlertmanagerPayload } : { kind: 'mode', value: parsed.data as OpsModeRequest } };
}

export interface AlertAction {
  alertname: string;
  status: 'firing' | 'resolved';
  scope: string;
  action: 'demote' | 'ignore';
  why: string;
  reason?: string;
}

/** What each alert asks for: a configured alert that fires demotes; nothing else changes a mode. */
export function planAlertActions(payload: AlertmanagerPayload, demoteAlerts: readonly string[]): AlertAction[] {
  return payload.alerts.map((a) => {
    const name = a.labels.alertname;
    const label = a.labels.scope ?? a.labels.sd_type;
    const scope = label !== undefined && Scope.safeParse(label).success ? label : '*';
    const base = { alertname: name, status: a.status, scope };
    if (!demoteAlerts.includes(name)) return { ...base, action: 'ignore', why: 'alert not in OPS_DEMOTE_ALERTS' };
    if (a.status === 'resolved') {
      return { ...base, action: 'ignore', why: 'a resolved alert never promotes; send a signed {"mode":"ENFORCE"} request to promote' };
    }
    const summary = a.annotations?.summary ?? a.annotations?.description;
    const reason = `Alertmanager alert ${name} firing${summary ? `: ${summary}` : ''}${a.startsAt ? ` (since ${a.startsAt})` : ''}`.slice(0, 500);
    return { ...base, action: 'demote', why: 'configured alert firing: ENFORCE -> WARN', reason };
  });
}

export function parseDemoteAlerts(value: string | undefined): string[] {
  const names = (value ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  return names.length > 0 ? names : [...DEFAULT_DEMOTE_ALERTS];
}

// ---------------------------------------------------------------------------------- answers
export const ModeChangeSchema = z
  .object({
    changed: z.boolean(),
    scope: z.string(),
    old_mode: z.enum(VALIDATION_MODES),
    new_mode: z.enum(VALIDATION_MODES),
    forced: z.boolean(),
    change_id: z.number().int().nullable(),
    actor: z.string().nullable().optional(),
    at: z.string().nullable().optional(),
    gate: z.record(z.string(), z.unknown()).describe('Promotion-gate numbers at the time (fn_promotion_gate)'),
  })
  .meta({ id: 'ModeChange' });

export const OpsWebhookResponseSchema = z
  .object({
    changed: z.boolean(),
    kind: z.enum(['mode', 'alertmanager']),
    webhook_id: z.string(),
    changes: z.array(ModeChangeSchema).describe('Every scope whose mode this request changed'),
    mode_read: ModeReadSchema.optional().describe('Mode of the requested scope as the function saw it before the change'),
    alerts: z.array(z.object({ alertname: z.string(), status: z.string(), scope: z.string(), action: z.enum(['demote', 'ignore']), why: z.string() })).optional(),
  })
  .meta({ id: 'OpsWebhookResponse' });

export const WebhookHeadersSchema = z.object({
  'webhook-id': z.string().min(1).max(255).describe('Unique message id; a repeated id is refused with 409 WEBHOOK_REPLAYED'),
  'webhook-timestamp': z.string().regex(/^\d{1,12}$/).describe('Unix seconds; more than 5 minutes from now in either direction is refused (401)'),
  'webhook-signature': z.string().describe('Space-separated v1,<base64 HMAC-SHA256 of "id.timestamp.body">; any one valid signature suffices'),
});

// ---------------------------------------------------------------------------------- secrets
export type SecretsResult = { ok: true; keys: Uint8Array[] } | { ok: false; problems: string[] };

function base64Bytes(text: string): Uint8Array | null {
  try {
    const bin = atob(text);
    return Uint8Array.from(bin, (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

/** OPS_WEBHOOK_SECRETS: comma-separated whsec_<base64>, each at least 32 bytes (several while rotating). */
export function parseWebhookSecrets(value: string | undefined): SecretsResult {
  const parts = (value ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (parts.length === 0) return { ok: false, problems: ['OPS_WEBHOOK_SECRETS is not set'] };
  const keys: Uint8Array[] = [];
  const problems: string[] = [];
  parts.forEach((part, i) => {
    const match = /^whsec_([A-Za-z0-9+/]+={0,2})$/.exec(part);
    const bytes = match ? base64Bytes(match[1]!) : null;
    // Never echo the secret itself, only its position and size.
    if (!bytes) problems.push(`secret #${i + 1} is not whsec_<base64>`);
    else if (bytes.length < MIN_SECRET_BYTES) problems.push(`secret #${i + 1} has ${bytes.length} bytes, at least ${MIN_SECRET_BYTES} are required`);
    else keys.push(bytes);
  });
  return problems.length > 0 ? { ok: false, problems } : { ok: true, keys };
}

// ---------------------------------------------------------------------------------- verification
export type VerifyResult =
  | { ok: true; id: string; timestamp: number; keyIndex: number }
  | { ok: false; code: 'WEBHOOK_SIGNATURE_INVALID' | 'WEBHOOK_TIMESTAMP_INVALID'; message: string };

export interface VerifyInput {
  keys: readonly CryptoKey[];
  headers: { get(name: string): string | null };
  body: string;
  nowSeconds: number;
  toleranceSeconds?: number;
}

export function importWebhookKeys(keys: readonly Uint8Array[]): Promise<CryptoKey[]> {
  return Promise.all(keys.map((k) => crypto.subtle.importKey('raw', k as BufferSource, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify'])));
}

/** Standard Webhooks verification against every active key; the first that verifies wins. */
export async function verifyWebhook(input: VerifyInput): Promise<VerifyResult> {
  const id = input.headers.get('webhook-id');
  const ts = input.headers.get('webhook-timestamp');
  const sig = input.headers.get('webhook-signature');
  if (!id || !ts || !sig) {
    return { ok: false, code: 'WEBHOOK_SIGNATURE_INVALID', message: 'webhook-id, webhook-timestamp and webhook-signature headers are required' };
  }
  if (!/^[\x21-\x7e]{1,255}$/.test(id)) return { ok: false, code: 'WEBHOOK_SIGNATURE_INVALID', message: 'webhook-id must be 1-255 printable characters' };
  if (!/^\d{1,12}$/.test(ts)) return { ok: false, code: 'WEBHOOK_TIMESTAMP_INVALID', message: 'webhook-timestamp must be Unix seconds' };
  const timestamp = Number(ts);
  const tolerance = input.toleranceSeconds ?? WEBHOOK_TOLERANCE_SECONDS;
  const skew = timestamp - input.nowSeconds;
  if (Math.abs(skew) > tolerance) {
    return {
      ok: false, code: 'WEBHOOK_TIMESTAMP_INVALID',
      message: `webhook-timestamp is ${Math.abs(skew)} s in the ${skew < 0 ? 'past' : 'future'}; at most ${tolerance} s either way is accepted`,
    };
  }
  const signed = new TextEncoder().encode(`${id}.${ts}.${input.body}`);
  const candidates = sig.split(' ').flatMap((s) => {
    const [version, value] = s.split(',', 2);
    const bytes = version === 'v1' && value ? base64Bytes(value) : null;
    return bytes && bytes.length === 32 ? [bytes] : [];
  });
  for (const candidate of candidates) {
    for (const [keyIndex, key] of input.keys.entries()) {
      if (await crypto.subtle.verify('HMAC', key, candidate as BufferSource, signed)) return { ok: true, id, timestamp, keyIndex };
    }
  }
  return { ok: false, code: 'WEBHOOK_SIGNATURE_INVALID', message: 'no webhook-signature verifies with an active secret' };
}
