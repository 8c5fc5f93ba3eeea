// fast-check generated HTTP requests to EVERY function the gateway serves (discovered from
// supabase/functions at test time): wrong methods, odd paths, wrong or missing tokens and content
// types, malformed and huge (≥ 1 MB) bodies, wrong types, missing and extra fields, unicode, SQL
// metacharacters, extreme numbers, and for ops-webhook also correctly signed bodies of every shape.
// Zero 5xx, zero uncaught exceptions in the function server's log, zero changed rows on a refusal.
import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateWebhookSecret } from '../../stack/agent-server.ts';
import { projectRoot } from '../../stack/db.ts';
import { discoverFunctions } from '../../stack/functions.ts';
import { signJwt } from '../../shared/jwt.ts';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { seedDirective } from '../helpers/fixtures.ts';
import { startTestFunctions, TEST_JWT_SECRET, type TestFunctions } from '../helpers/functions.ts';

const RUNS = Number(process.env.BAD_INPUT_HTTP_RUNS ?? '200');
const SEED = Number(process.env.BAD_INPUT_SEED ?? '20261125');
const opsSecret = generateWebhookSecret();
let db: FreshDatabase;
let fns: TestFunctions;
let tokens: Record<string, string>;

beforeAll(async () => {
  db = await freshDatabase();
  for (const [id, phase] of [['SD-BAD-1', 'LEAD'], ['SD-BAD-2', 'EXEC'], ['SD-BAD-3', 'PLAN']] as const) await seedDirective(db.sql, { id, phase });
  fns = await startTestFunctions(db.url, { SUBAGENT_SIGNING_SECRET: generateWebhookSecret(), OPS_WEBHOOK_SECRETS: opsSecret });
  const now = Math.floor(Date.now() / 1000);
  tokens = {
    service: fns.serviceRoleKey,
    anon: fns.anonKey,
    authenticated: await signJwt({ role: 'authenticated', sub: 'user-1', aud: 'authenticated', exp: now + 3600 }, TEST_JWT_SECRET),
    metrics: await signJwt({ role: 'stagegate_metrics', exp: now + 3600 }, TEST_JWT_SECRET),
    expired: await signJwt({ role: 'service_role', exp: now - 60 }, TEST_JWT_SECRET),
    otherSecret: await signJwt({ role: 'service_role', exp: now + 3600 }, 'x'.repeat(40)),
    noRole: await signJwt({ exp: now + 3600 }, TEST_JWT_SECRET),
    weirdRole: await signJwt({ role: "'; drop role service_role; --", exp: now + 3600 }, TEST_JWT_SECRET),
    // Refused with 401 since issue #14: no exp, nbf ahead, a role that is not a string, a user without sub or aud.
    noExp: await signJwt({ role: 'service_role' }, TEST_JWT_SECRET),
    notYet: await signJwt({ role: 'service_role', nbf: now + 86_400, exp: now + 90_000 }, TEST_JWT_SECRET),
    arrayRole: await signJwt({ role: ['service_role'] as never, exp: now + 3600 }, TEST_JWT_SECRET),
    userNoSub: await signJwt({ role: 'authenticated', aud: 'authenticated', exp: now + 3600 }, TEST_JWT_SECRET),
    userNoAud: await signJwt({ role: 'authenticated', sub: 'user-2', exp: now + 3600 }, TEST_JWT_SECRET),
  };
});
afterAll(async () => {
  await fns?.stop();
  await db?.drop();
});

// ---------------------------------------------------------------- generators
const MB = 1024 * 1024;
const hostile = fc.constantFrom("'; drop table public.strategic_directives_v2; --", '" or ""="', '%00', '\u0000', '\\', '$$', '../../etc/passwd', '<script>', 'Ω≈ç√∫ 𝕏 😀 \u202e', ' ', '');
/** Text PostgreSQL cannot take as it is: NUL and other control characters, lone UTF-16 surrogates. */
const control = fc.constantFrom('\u0000', '\u0001', '\u0007', '\b', '\t', '\n', '\u001b', '\u007f', '\u0085', '\u009f');
const surrogate = fc.constantFrom('\ud800', '\udbff', '\udc00', '\udfff', '\udc00\ud800');
/** A plausible value with one unstorable character spliced in at a random place ("SD-X\u0000x"). */
const spliced = (good: fc.Arbitrary<string>) => fc.tuple(good, fc.oneof(control, surrogate), fc.nat()).map(([g, bad, at]) => {
  const i = at % (g.length + 1);
  return g.slice(0, i) + bad + g.slice(i);
});
/** Integers around and past the int4 range of the columns behind them. */
const int4Edges = fc.oneof(
  fc.constantFrom(2 ** 31 - 1, 2 ** 31, -(2 ** 31), -(2 ** 31) - 1, 3_000_000_000, 2 ** 32, 2 ** 53 - 1, -(2 ** 53) + 1),
  fc.integer({ min: 2 ** 31, max: Number.MAX_SAFE_INTEGER }),
);
const anyText = fc.oneof(hostile, fc.string({ maxLength: 30 }), fc.string({ unit: 'grapheme', maxLength: 10 }), fc.constant('a'.repeat(5000)),
  spliced(fc.string({ maxLength: 10 })), fc.string({ unit: 'binary', maxLength: 10 }));
const anyValue = fc.oneof(
  anyText, fc.integer(), int4Edges, fc.constantFrom(-1, 0, 1e308, -1e308, Number.MAX_SAFE_INTEGER, 2 ** 31, 0.5), fc.boolean(), fc.constant(null),
  fc.constant([]), fc.constant({}), fc.array(fc.string({ maxLength: 5 }), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 5 }), fc.string({ maxLength: 5 }), { maxKeys: 3 }),
);
/** Mostly a plausible value, sometimes anything: so requests reach the database, not only zod. */
const mostly = <T,>(good: fc.Arbitrary<T>) => fc.oneof({ arbitrary: good, weight: 5 }, { arbitrary: anyValue, weight: 1 });
/** Mostly plausible text, often with a control character or lone surrogate spliced into it. */
const mostlyText = (good: fc.Arbitrary<string>) => fc.oneof({ arbitrary: good, weight: 4 }, { arbitrary: spliced(good), weight: 2 }, { arbitrary: anyValue, weight: 1 });
const handoffBody = fc.record({
  sd_id: mostlyText(fc.constantFrom('SD-BAD-1', 'SD-BAD-2', 'SD-BAD-3', 'SD-MISSING', 'SD-X', '00000000-0000-0000-0000-000000000000', "SD-' or 1=1 --")),
  handoff_type: mostlyText(fc.constantFrom('LEAD-TO-PLAN', 'exec_to_plan', 'PlanToExec', 'PLAN-TO-LEAD', 'lead to plan', 'EXEC-TO-PLAM', 'LEAD-TO-LEAD')),
  session_id: mostlyText(fc.constantFrom('s-fuzz', 's-other', 'ü-session')),
  timeout_ms: fc.oneof({ arbitrary: fc.integer({ min: 50, max: 5000 }), weight: 5 }, { arbitrary: int4Edges, weight: 1 }, { arbitrary: anyValue, weight: 1 }),
  dry_run: mostly(fc.boolean()),
  skip_idempotency: mostly(fc.boolean()),
  expected_version: fc.oneof({ arbitrary: fc.integer({ min: -1, max: 1 }), weight: 3 }, { arbitrary: int4Edges, weight: 2 }, { arbitrary: anyValue, weight: 1 }),
  extra: anyValue,
}).chain((b) => fc.record({
  // the three required fields are present most of the time, optional ones half the time
  keep: fc.tuple(fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean(), fc.boolean()),
  required: fc.double({ min: 0, max: 1, noNaN: true }),
}).map(({ keep, required }) => {
  const out: Record<string, unknown> = {};
  if (required < 0.9) for (const k of ['sd_id', 'handoff_type', 'session_id'] as const) if (k in b) out[k] = b[k];
  (['timeout_ms', 'dry_run', 'skip_idempotency', 'expected_version'] as const).forEach((k, i) => { if (keep[i] && k in b) out[k] = b[k]; });
  if (keep[4] && keep[0] && keep[1]) out.extra = b.extra;
  return out;
}));
const opsBody = fc.oneof(
  fc.record({ mode: mostly(fc.constantFrom('ENFORCE', 'WARN', 'OFF', 'enforce', 'ON')), scope: mostlyText(fc.constantFrom('*', 'feature', 'security', 'nope')), reason: mostlyText(fc.constantFrom('fuzz', 'a reason')), force: mostly(fc.boolean()) }, { requiredKeys: ['mode', 'reason'] }),
  fc.record({ version: mostly(fc.constant('4')), status: mostly(fc.constantFrom('firing', 'resolved')), alerts: mostly(fc.array(fc.record({ status: fc.constantFrom('firing', 'resolved', 'x'), labels: fc.dictionary(fc.constantFrom('alertname', 'scope', 'sd_type'), fc.oneof(fc.constantFrom('EnforceGateUnknownRateHigh', 'feature', '*'), anyText)) }), { maxLength: 3 })) }, { requiredKeys: [] }),
);

type BodyKind = { kind: 'json'; value: unknown } | { kind: 'raw'; text: string } | { kind: 'bytes'; bytes: number[] } | { kind: 'huge' } | { kind: 'none' };
const bodyOf = (json: fc.Arbitrary<unknown>): fc.Arbitrary<BodyKind> => fc.oneof(
  { arbitrary: json.map((value) => ({ kind: 'json' as const, value })), weight: 12 },
  { arbitrary: anyValue.map((value) => ({ kind: 'json' as const, value })), weight: 2 },
  { arbitrary: fc.constantFrom('{', '{"sd_id":', 'nul', '[1,2', '{"a":1}}', '\u0000', '', ' ', 'NaN', '{"sd_id": 1e999999}', '{"__proto__": {"admin": true}}').map((text) => ({ kind: 'raw' as const, text })), weight: 2 },
  { arbitrary: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 16 }).map((bytes) => ({ kind: 'bytes' as const, bytes })), weight: 1 },
  { arbitrary: fc.constant({ kind: 'huge' as const }), weight: 1 },
  { arbitrary: fc.constant({ kind: 'none' as const }), weight: 1 },
);

interface Generated {
  method: string;
  suffix: string;
  token: string | null;
  contentType: string | null;
  body: BodyKind;
  idempotencyKey: string | null;
  sign: 'valid' | 'none' | 'garbage' | 'stale';
}
const METHOD: Record<string, string> = { handoff: 'POST', 'ops-webhook': 'POST' };
const anyEnvelope = fc.record({
  method: fc.constantFrom('POST', 'GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'),
  suffix: fc.constantFrom('', '/', '/attempts/00000000-0000-0000-0000-000000000000', '/attempts/not-a-uuid', '/attempts/', '/%00', '/..%2f..%2fetc', '/x/y/z', `/${'a'.repeat(3000)}`, "/attempts/'%20or%201=1"),
  token: fc.constantFrom('service', 'authenticated', 'anon', 'metrics', 'expired', 'otherSecret', 'noRole', 'weirdRole', 'noExp', 'notYet', 'arrayRole', 'userNoSub', 'userNoAud', 'garbage', null),
  contentType: fc.constantFrom('application/json', 'text/plain', 'application/json; charset=utf-16', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded', 'APPLICATION/JSON', null),
});
/** Two in three requests have a correct envelope and a fuzzed body; the rest fuzz everything. */
const request = (fn: string, json: fc.Arbitrary<unknown>): fc.Arbitrary<Generated> => fc.record({
  envelope: fc.oneof(
    { arbitrary: fc.constantFrom('service', 'authenticated').map((token) => ({ method: METHOD[fn] ?? 'GET', suffix: '', token, contentType: 'application/json' })), weight: 2 },
    { arbitrary: anyEnvelope, weight: 1 },
  ),
  body: bodyOf(json),
  idempotencyKey: fc.oneof({ arbitrary: fc.constant(null), weight: 6 }, { arbitrary: fc.oneof(fc.uuid(), fc.constantFrom('', ' ', 'ü', 'k'.repeat(300), 'a\tb')), weight: 1 }),
  sign: fc.constantFrom('valid', 'valid', 'valid', 'none', 'garbage', 'stale'),
}).map(({ envelope, ...rest }) => ({ ...envelope, ...rest }) as Generated);

function encode(body: BodyKind): string | Uint8Array<ArrayBuffer> | undefined {
  switch (body.kind) {
    case 'json': return JSON.stringify(body.value) ?? 'null';
    case 'raw': return body.text;
    case 'bytes': return new Uint8Array(body.bytes);
    case 'huge': return JSON.stringify({ sd_id: 'x'.repeat(MB + 10), handoff_type: 'LEAD-TO-PLAN', session_id: 's' });
    case 'none': return undefined;
  }
}

function send(fn: string, g: Generated, msgId: number): Promise<Response> {
  const headers: Record<string, string> = {};
  if (g.token === 'garbage') headers.authorization = 'Bearer not.a.jwt';
  else if (g.token) headers.authorization = `Bearer ${tokens[g.token]}`;
  if (g.contentType) headers['content-type'] = g.contentType;
  if (g.idempotencyKey !== null) headers['idempotency-key'] = g.idempotencyKey;
  const canHaveBody = !['GET', 'HEAD'].includes(g.method);
  const body = canHaveBody ? encode(g.body) : undefined;
  if (fn === 'ops-webhook' && g.sign !== 'none') {
    const id = `msg_fuzz_${msgId}`;
    const at = g.sign === 'stale' ? new Date(Date.now() - 3600_000) : new Date();
    const payload = typeof body === 'string' ? body : body ? new TextDecoder().decode(body) : '';
    headers['webhook-id'] = id;
    headers['webhook-timestamp'] = String(Math.floor(at.getTime() / 1000));
    headers['webhook-signature'] = g.sign === 'garbage' ? 'v1,AAAA' : new Webhook(opsSecret).sign(id, at, payload);
  }
  return fetch(`${fns.functionsUrl}/${fn}${g.suffix}`, { method: g.method, headers, body });
}

// ---------------------------------------------------------------- the database before and after
async function checksums(): Promise<Map<string, string>> {
  const tables = await db.sql<{ t: string }[]>`select format('%I.%I', schemaname, tablename) as t from pg_catalog.pg_tables where schemaname = 'public' order by 1`;
  const parts = tables.map(({ t }) => `select '${t}' as t, count(*) || ':' || coalesce(md5(string_agg(md5(x::text), '' order by md5(x::text))), '') as h from ${t} x`);
  const rows = await db.sql.unsafe<{ t: string; h: string }[]>(parts.join(' union all '));
  return new Map(rows.map((r) => [r.t, r.h]));
}

/** Tables a refusal may write by design: the unknown-input counter, a stored Idempotency-Key answer. */
function mayChange(code: string | undefined, g: Generated): Set<string> {
  const allowed = new Set<string>();
  if (code === 'UNKNOWN_HANDOFF_TYPE') allowed.add('public.unknown_inputs');
  if (g.idempotencyKey !== null) allowed.add('public.http_idempotency_keys');
  return allowed;
}

const functionNames = discoverFunctions(projectRoot).map((f) => f.name);
const statuses: Record<string, Record<number, number>> = {};

describe('the bad inputs that used to answer 500 (issue #15)', () => {
  for (const [name, body] of [
    ['NUL in sd_id', { sd_id: 'SD-X\u0000x', handoff_type: 'LEAD-TO-PLAN', session_id: 's' }],
    ['NUL in session_id', { sd_id: 'SD-BAD-1', handoff_type: 'LEAD-TO-PLAN', session_id: 's\u0000' }],
    ['a lone surrogate in session_id', { sd_id: 'SD-BAD-1', handoff_type: 'LEAD-TO-PLAN', session_id: 's\ud800' }],
    ['expected_version past int4', { sd_id: 'SD-BAD-1', handoff_type: 'LEAD-TO-PLAN', session_id: 's', expected_version: 3_000_000_000 }],
    ['timeout_ms past int4', { sd_id: 'SD-BAD-1', handoff_type: 'LEAD-TO-PLAN', session_id: 's', timeout_ms: 2 ** 31 }],
  ] as const) {
    it(`${name}: 400 INVALID_INPUT naming the field, nothing written`, async () => {
      const before = await checksums();
      const response = await fetch(`${fns.functionsUrl}/handoff`, {
        method: 'POST', headers: { authorization: `Bearer ${fns.serviceRoleKey}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
      });
      const answer = (await response.json()) as { error: { code: string; details: { issues: { path: string }[] } } };
      expect(response.status).toBe(400);
      expect(answer.error.code).toBe('INVALID_INPUT');
      expect(answer.error.details.issues.length).toBeGreaterThan(0);
      expect(await checksums()).toEqual(before);
    });
  }
});

describe('generated requests to every function', () => {
  it('finds the functions to test from the project, not from a list in this file', () => {
    expect(functionNames).toEqual(expect.arrayContaining(['handoff', 'health']));
  });

  let msgId = 0;
  for (const fn of [...functionNames, 'no-such-function']) {
    it(`${fn}: no 5xx, an error envelope on every refusal, no changed row on a refusal`, async () => {
      const json = fn === 'ops-webhook' ? opsBody : handoffBody;
      const samples = fc.sample(request(fn, json), { numRuns: RUNS, seed: SEED + fn.length });
      const problems: string[] = [];
      const tally: Record<number, number> = {};
      let before = await checksums();
      for (const g of samples) {
        const response = await send(fn, g, ++msgId);
        const text = await response.text();
        tally[response.status] = (tally[response.status] ?? 0) + 1;
        const after = await checksums();
        const what = () => `${g.method} ${fn}${g.suffix.slice(0, 60)} token=${g.token} type=${g.contentType} body=${JSON.stringify(g.body).slice(0, 160)} → ${response.status} ${text.slice(0, 200)}`;
        if (response.status >= 500) problems.push(`5xx: ${what()}`);
        let code: string | undefined;
        if (response.status >= 400 && g.method !== 'HEAD') {
          try {
            code = (JSON.parse(text) as { error?: { code?: unknown } }).error?.code as string | undefined;
          } catch { /* checked below */ }
          if (typeof code !== 'string') problems.push(`no error envelope: ${what()}`);
        }
        if (response.status >= 400) {
          const allowed = mayChange(code, g);
          for (const [table, sum] of after) {
            if (before.get(table) !== sum && !allowed.has(table)) problems.push(`changed ${table} on a refusal: ${what()}`);
          }
        }
        before = after;
      }
      statuses[fn] = tally;
      expect(problems).toEqual([]);
      expect(fns.server.process.alive()).toBe(true);
    }, 180_000);
  }

  it('logged no uncaught exception, stack trace or internal error', () => {
    console.log('bad-input HTTP sweep, statuses per function:', JSON.stringify(statuses));
    const bad = fns.logs.filter((l) => /unhandled|uncaught|^\s+at\s|"level":"error"|panicked/i.test(l));
    expect(bad).toEqual([]);
  });

  it('leaves no invariant violated', async () => {
    expect(await db.sql`select invariant, subject, detail from public.fn_check_invariants()`).toEqual([]);
  });
});
