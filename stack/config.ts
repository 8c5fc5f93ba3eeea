// Startup environment validation (stage-normalization memo): every setting the local stack reads
// is parsed here once; a bad value stops the stack with one structured JSON error, not a trace.
import path from 'node:path';
import { z } from 'zod';
import { parseFunctionEnv } from '../shared/function-config.ts';
import { parseWebhookSecrets } from '../shared/ops-webhook.ts';

const port = (name: string, fallback: number) =>
  z.coerce
    .number({ error: `${name} must be a TCP port number` })
    .int(`${name} must be a whole number`)
    .min(1024, `${name} must be between 1024 and 65535`)
    .max(65535, `${name} must be between 1024 and 65535`)
    .default(fallback);

const EnvSchema = z.object({
  STAGEGATE_API_PORT: port('STAGEGATE_API_PORT', 54321),
  STAGEGATE_DB_PORT: port('STAGEGATE_DB_PORT', 54322),
  // where `supabase start` serves Studio; the console is served there
  STAGEGATE_CONSOLE_PORT: port('STAGEGATE_CONSOLE_PORT', 54323),
  STAGEGATE_DATA_DIR: z.string().min(1).default('.stagegate'),
  DATABASE_URL: z
    .string()
    .refine((v) => /^postgres(ql)?:\/\/.+/.test(v), 'DATABASE_URL must be a postgres:// or postgresql:// URL')
    .optional(),
  // The same well-known local secret as `supabase start`: local only, never a hosted secret.
  STAGEGATE_JWT_SECRET: z
    .string()
    .min(32, 'STAGEGATE_JWT_SECRET must be at least 32 characters')
    .default('super-secret-jwt-token-with-at-least-32-characters-long'),
  OPS_WEBHOOK_SECRETS: z
    .string()
    .refine((v) => parseWebhookSecrets(v).ok,
      'OPS_WEBHOOK_SECRETS must be comma-separated Standard Webhooks secrets (whsec_ + base64), each of at least 32 bytes')
    .optional(),
  SUBAGENT_SIGNING_SECRET: z
    .string()
    .refine((v) => !v.includes(',') && parseWebhookSecrets(v).ok, 'SUBAGENT_SIGNING_SECRET must be a Standard Webhooks secret: whsec_ + base64 of at least 32 bytes')
    .optional(),
  // Approval events POSTed to this URL, signed with this Standard Webhooks secret (both or neither).
  STAGEGATE_APPROVAL_WEBHOOK_URL: z.url({ protocol: /^https?$/, error: 'STAGEGATE_APPROVAL_WEBHOOK_URL must be an http(s) URL' }).optional(),
  STAGEGATE_APPROVAL_WEBHOOK_SECRET: z
    .string()
    .refine((v) => !v.includes(',') && parseWebhookSecrets(v).ok, 'STAGEGATE_APPROVAL_WEBHOOK_SECRET must be a Standard Webhooks secret: whsec_ + base64 of at least 32 bytes')
    .optional(),
  STAGEGATE_DEMO: z.enum(['on', 'off']).default('on'),
  // Passed to the functions server's V8 as --v8-flags (read by stack/functions.ts, which
  // defaults it to --max-semi-space-size=2); validated here so a typo stops the start.
  STAGEGATE_DENO_V8_FLAGS: z
    .string()
    .regex(/^--[a-z0-9-]+(=[A-Za-z0-9._-]+)?(,--[a-z0-9-]+(=[A-Za-z0-9._-]+)?)*$/, 'STAGEGATE_DENO_V8_FLAGS must be comma-separated --flag or --flag=value V8 options')
    .optional(),
});

export type StackConfig = {
  apiPort: number;
  dbPort: number;
  consolePort: number;
  /** <checkout>/.stagegate unless STAGEGATE_DATA_DIR is set; see localDataDir in postgres.ts for root. */
  dataDir: string;
  dataDirExplicit: boolean;
  databaseUrl: string | undefined;
  jwtSecret: string;
  opsWebhookSecrets: string | undefined;
  subagentSigningSecret: string | undefined;
  /** Where approval events are POSTed (Standard Webhooks-signed), when configured. */
  approvalWebhook: { url: string; secret: string } | undefined;
  demo: boolean;
  projectRoot: string;
};

export class ConfigError extends Error {
  constructor(readonly issues: { variable: string; message: string }[]) {
    super(issues.map((i) => `${i.variable}: ${i.message}`).join('; '));
  }
  toJSON() {
    return { error: { code: 'INVALID_CONFIG', message: 'invalid stack configuration', details: this.issues } };
  }
}

export function loadConfig(env: Record<string, string | undefined>, projectRoot: string): StackConfig {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => ({ variable: String(i.path[0] ?? '?'), message: i.message })));
  }
  const e = parsed.data;
  if (e.DATABASE_URL === undefined && e.STAGEGATE_API_PORT === e.STAGEGATE_DB_PORT) {
    throw new ConfigError([{ variable: 'STAGEGATE_DB_PORT', message: 'must differ from STAGEGATE_API_PORT' }]);
  }
  // The functions' own settings (STAGEGATE_GATE_CONCURRENCY, pool sizes, …) pass through to the
  // functions server: a bad one stops the start here, as the functions would refuse to run with it.
  const functions = parseFunctionEnv({ ...cleaned, STAGEGATE_JWT_SECRET: e.STAGEGATE_JWT_SECRET });
  if (!functions.ok) throw new ConfigError(functions.problems);
  if ((e.STAGEGATE_APPROVAL_WEBHOOK_URL === undefined) !== (e.STAGEGATE_APPROVAL_WEBHOOK_SECRET === undefined)) {
    throw new ConfigError([{ variable: e.STAGEGATE_APPROVAL_WEBHOOK_URL === undefined ? 'STAGEGATE_APPROVAL_WEBHOOK_URL' : 'STAGEGATE_APPROVAL_WEBHOOK_SECRET',
                             message: 'set STAGEGATE_APPROVAL_WEBHOOK_URL and STAGEGATE_APPROVAL_WEBHOOK_SECRET together' }]);
  }
  return {
    apiPort: e.STAGEGATE_API_PORT,
    dbPort: e.STAGEGATE_DB_PORT,
    consolePort: e.STAGEGATE_CONSOLE_PORT,
    dataDir: path.resolve(projectRoot, e.STAGEGATE_DATA_DIR),
    dataDirExplicit: cleaned.STAGEGATE_DATA_DIR !== undefined,
    databaseUrl: e.DATABASE_URL,
    jwtSecret: e.STAGEGATE_JWT_SECRET,
    opsWebhookSecrets: e.OPS_WEBHOOK_SECRETS,
    subagentSigningSecret: e.SUBAGENT_SIGNING_SECRET,
    approvalWebhook: e.STAGEGATE_APPROVAL_WEBHOOK_URL && e.STAGEGATE_APPROVAL_WEBHOOK_SECRET
      ? { url: e.STAGEGATE_APPROVAL_WEBHOOK_URL, secret: e.STAGEGATE_APPROVAL_WEBHOOK_SECRET }
      : undefined,
    demo: e.STAGEGATE_DEMO === 'on',
    projectRoot,
  };
}
