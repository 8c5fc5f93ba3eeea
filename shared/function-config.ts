// Every setting the edge functions read, parsed once at start with zod. A bad value is not
// "run with NaN": the function answers every request 503 CONFIG_INVALID naming the variable,
// and `health` reports it (see supabase/functions/_shared/config.ts). Pure: the caller passes
// the environment in.
import { z } from 'zod';
import type { JSONWebKeySet } from 'jose';
import { parseWebhookSecrets } from './ops-webhook.ts';

const int = (name: string, fallback: number, min: number, max: number) =>
  z.string().optional().transform((v, ctx): number => {
    if (v === undefined || v.trim() === '') return fallback;
    const n = /^\s*\d+\s*$/.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      ctx.addIssue({ code: 'custom', message: `${name} must be a whole number between ${min} and ${max} (got ${JSON.stringify(v.slice(0, 40))})` });
      return z.NEVER;
    }
    return n;
  });

const optionalText = z.string().optional().transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const JwksSchema = z.object({
  keys: z.array(z.looseObject({ kty: z.string() })).min(1, 'SUPABASE_JWKS needs at least one key'),
});

const url = (name: string) => optionalText.refine((v) => v === undefined || /^https?:\/\/[^\s]+$/.test(v), `${name} must be an http(s) URL`);

export const FunctionEnvSchema = z.object({
  SUPABASE_URL: url('SUPABASE_URL'),
  SUPABASE_DB_URL: optionalText,
  SUPABASE_SERVICE_ROLE_KEY: optionalText,
  /** Gate concurrency per handoff; 1 is the runbook's emergency sequential mode. */
  STAGEGATE_GATE_CONCURRENCY: int('STAGEGATE_GATE_CONCURRENCY', 5, 1, 64),
  STAGEGATE_DB_POOL: int('STAGEGATE_DB_POOL', 10, 1, 200),
  /** How long an event stream follows an attempt awaiting approval before it ends with still_waiting. */
  STAGEGATE_APPROVAL_STREAM_MS: int('STAGEGATE_APPROVAL_STREAM_MS', 900_000, 1000, 86_400_000),
  STAGEGATE_MODE_TTL_MS: int('STAGEGATE_MODE_TTL_MS', 5000, 0, 3_600_000),
  STAGEGATE_MODE_TIMEOUT_MS: int('STAGEGATE_MODE_TIMEOUT_MS', 250, 1, 60_000),
  STAGEGATE_METRICS_TIMEOUT_MS: int('STAGEGATE_METRICS_TIMEOUT_MS', 5000, 100, 120_000),
  STAGEGATE_JWT_SECRET: optionalText.refine((v) => v === undefined || v.length >= 32, 'STAGEGATE_JWT_SECRET must be at least 32 characters'),
  SUPABASE_JWT_SECRET: optionalText.refine((v) => v === undefined || v.length >= 32, 'SUPABASE_JWT_SECRET must be at least 32 characters'),
  /** The project's JWKS inline (JSON); otherwise fetched from STAGEGATE_JWKS_URL or SUPABASE_URL. */
  SUPABASE_JWKS: optionalText.transform((v, ctx): JSONWebKeySet | undefined => {
    if (v === undefined) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(v);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'SUPABASE_JWKS must be a JSON Web Key Set ({"keys":[…]})' });
      return z.NEVER;
    }
    const keys = JwksSchema.safeParse(parsed);
    if (!keys.success) {
      ctx.addIssue({ code: 'custom', message: 'SUPABASE_JWKS must be a JSON Web Key Set ({"keys":[…]}) with at least one key' });
      return z.NEVER;
    }
    return keys.data as JSONWebKeySet;
  }),
  STAGEGATE_JWKS_URL: url('STAGEGATE_JWKS_URL'),
  STAGEGATE_JWKS_CACHE_MS: int('STAGEGATE_JWKS_CACHE_MS', 600_000, 1000, 86_400_000),
  /** Comma-separated accepted `iss` values; unset: iss is not checked. */
  STAGEGATE_JWT_ISSUER: optionalText.transform((v) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : [])),
  STAGEGATE_JWT_AUDIENCE: optionalText.transform((v) => v ?? 'authenticated'),
  SUBAGENT_SIGNING_SECRET: optionalText.refine((v) => v === undefined || (!v.includes(',') && parseWebhookSecrets(v).ok),
    'SUBAGENT_SIGNING_SECRET must be a Standard Webhooks secret: whsec_ + base64 of at least 32 bytes'),
  /** approval-webhooks: where approval events are POSTed, and the Standard Webhooks secret signing them (both or neither). */
  STAGEGATE_APPROVAL_WEBHOOK_URL: url('STAGEGATE_APPROVAL_WEBHOOK_URL'),
  STAGEGATE_APPROVAL_WEBHOOK_SECRET: optionalText.refine((v) => v === undefined || (!v.includes(',') && parseWebhookSecrets(v).ok),
    'STAGEGATE_APPROVAL_WEBHOOK_SECRET must be a Standard Webhooks secret: whsec_ + base64 of at least 32 bytes'),
});

export type FunctionEnv = z.output<typeof FunctionEnvSchema>;

export interface ConfigProblem { variable: string; message: string }

export type FunctionConfigResult = { ok: true; env: FunctionEnv; jwksUrl: string | undefined } | { ok: false; problems: ConfigProblem[] };

/** Parses the functions' environment; every problem is named by its variable. */
export function parseFunctionEnv(env: Record<string, string | undefined>): FunctionConfigResult {
  const parsed = FunctionEnvSchema.safeParse(env);
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((i) => ({ variable: String(i.path[0] ?? '(env)'), message: i.message })),
    };
  }
  const e = parsed.data;
  if ((e.STAGEGATE_APPROVAL_WEBHOOK_URL === undefined) !== (e.STAGEGATE_APPROVAL_WEBHOOK_SECRET === undefined)) {
    const missing = e.STAGEGATE_APPROVAL_WEBHOOK_URL === undefined ? 'STAGEGATE_APPROVAL_WEBHOOK_URL' : 'STAGEGATE_APPROVAL_WEBHOOK_SECRET';
    return { ok: false, problems: [{ variable: missing, message: 'set STAGEGATE_APPROVAL_WEBHOOK_URL and STAGEGATE_APPROVAL_WEBHOOK_SECRET together' }] };
  }
  // Hosted Supabase publishes the project's public signing keys beside Auth.
  const jwksUrl = e.STAGEGATE_JWKS_URL ?? (e.SUPABASE_JWKS ? undefined : e.SUPABASE_URL && `${e.SUPABASE_URL.replace(/\/+$/, '')}/auth/v1/.well-known/jwks.json`);
  const secret = e.STAGEGATE_JWT_SECRET ?? e.SUPABASE_JWT_SECRET;
  if (!secret && !e.SUPABASE_JWKS && !jwksUrl) {
    return { ok: false, problems: [{ variable: 'STAGEGATE_JWT_SECRET', message: 'no way to verify tokens: set STAGEGATE_JWT_SECRET, SUPABASE_JWKS, STAGEGATE_JWKS_URL or SUPABASE_URL' }] };
  }
  return { ok: true, env: e, jwksUrl };
}

/** The names of the settings, for the docs test. */
export const FUNCTION_SETTINGS = Object.keys(FunctionEnvSchema.shape) as (keyof typeof FunctionEnvSchema.shape)[];
