// Generated arguments to EVERY function in `public` that service_role may execute, listed from
// pg_proc at test time so an RPC added later is covered without touching this file. Values are
// generated per argument type (null, '', 1 MB text, unicode, SQL metacharacters, extreme numbers,
// malformed uuids, JSON of the wrong shape, plus a few real keys so calls reach the deep paths).
// Every call must succeed or raise one of our SG… states or a clean input error (22…, 23…) that
// the edge's error mapper (shared/errors.ts) answers with a 4xx; never an internal error, a
// crash, or a changed row when it was refused. The values include what once answered 500 over
// HTTP: NUL in text and JSON, lone surrogates, control characters, integers past int4.
import fc from 'fast-check';
import type postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mapDbError } from '../../shared/errors.ts';
import { connectAs, freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { seedDirective } from '../helpers/fixtures.ts';

const RUNS_PER_RPC = Number(process.env.BAD_INPUT_RUNS ?? '50');
const SEED = Number(process.env.BAD_INPUT_SEED ?? '20261125');
const ACCEPTABLE = /^(SG\d{3}|22[0-9A-Z]{3}|23[0-9A-Z]{3})$/;

let db: FreshDatabase;
let asService: postgres.Sql;
let attemptId: string;

interface Rpc { name: string; kind: string; signature: string; types: string[]; returnsSet: boolean }

beforeAll(async () => {
  db = await freshDatabase();
  await seedDirective(db.sql, { id: 'SD-RPC-1', phase: 'LEAD' });
  await seedDirective(db.sql, { id: 'SD-RPC-2', phase: 'EXEC' });
  const [begun] = await db.sql<{ r: { attempt_id: string } }[]>`select public.fn_begin_handoff('SD-RPC-2', 'EXEC-TO-PLAN', 's-rpc', 'req-rpc-1') as r`;
  attemptId = begun!.r.attempt_id;
  asService = connectAs(db.url, 'service_role');
  await asService`select set_config('statement_timeout', '10000', false)`;
});
afterAll(async () => {
  await asService?.end({ timeout: 1 });
  await db?.drop();
});

async function listRpcs(): Promise<Rpc[]> {
  const rows = await db.sql<{ name: string; kind: string; signature: string; types: string[]; returns_set: boolean }[]>`
    select p.proname as name, p.prokind::text as kind, p.oid::regprocedure::text as signature, p.proretset as returns_set,
           coalesce((select array_agg(format_type(t, null) order by i) from unnest(p.proargtypes) with ordinality u(t, i)), '{}') as types
    from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
    where n.nspname = 'public' and p.prokind in ('f', 'p')
      and p.prorettype <> 'trigger'::regtype
      and has_function_privilege('service_role', p.oid, 'execute')
      and not exists (select 1 from pg_catalog.pg_depend d where d.objid = p.oid and d.deptype = 'e')
    order by 1, 3`;
  return rows.map((r) => ({ name: r.name, kind: r.kind, signature: r.signature, types: r.types, returnsSet: r.returns_set }));
}

// ---------------------------------------------------------------- values per type (as text, cast in SQL)
const huge = 'x'.repeat(1024 * 1024);
const hostile = fc.constantFrom(
  "'; drop table public.strategic_directives_v2; --", "\\' or 1=1 --", '%', '_', '\\', '$$', '"', '`rm -rf`', '${x}', 'NULL', 'null',
  'Ω≈ç√∫ 𝕏 😀 \u200b\u202e', 'ä'.repeat(300), ' ', '\t\n', 'a'.repeat(201), 'a'.repeat(10_000),
  // NUL (PostgreSQL text cannot hold it), lone surrogates, C0/DEL/C1 control characters
  '\u0000', 'SD-RPC-1\u0000x', 's-rpc\u0000', '\ud800', 'a\udfffb', '\udc00\ud800', 'SD-RPC-1\u0001', 'x\u001by', '\u007f', '\u0085',
);
const realText = fc.constantFrom(
  'SD-RPC-1', 'SD-RPC-2', 'EXEC-TO-PLAN', 'lead_to_plan', 'LEAD', 'EXEC', 'PLAN', 'feature', 'security', 'ENFORCE', 'WARN', 'OFF',
  'STORIES_DONE', 'SD_DEFINED', 's-rpc', 'req-rpc-1', 'handoff_type', 'stage', '*', 'sweep', 'expired_claims',
);
const text = fc.oneof(
  { arbitrary: realText, weight: 4 }, { arbitrary: hostile, weight: 3 }, { arbitrary: fc.string({ maxLength: 40 }), weight: 2 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }), weight: 1 }, { arbitrary: fc.constant(''), weight: 1 },
  { arbitrary: fc.constant(huge), weight: 1 },
);
const integer = fc.oneof(
  fc.constantFrom('0', '-1', '1', '2147483647', '-2147483648', '9223372036854775807', '99999999999999999999999', '1.5', 'abc', '', ' 1',
    '2147483648', '-2147483649', '3000000000', '4294967296', '\u00001'),
  fc.integer().map(String), fc.integer({ min: -5, max: 200 }).map(String),
);
const numeric = fc.oneof(integer, fc.constantFrom('NaN', 'Infinity', '-Infinity', '1e400', '-0', '0.0001', '1e-400'), fc.double().map(String));
const bool = fc.constantFrom('true', 'false', 't', 'f', 'yes', 'maybe', '', '2');
const uuid = fc.oneof(fc.uuid(), fc.constantFrom('not-a-uuid', '', '00000000-0000-0000-0000-000000000000', '{}', "' or 1=1 --", 'g'.repeat(36)), fc.constant('ATTEMPT'));
const jsonShapes = fc.constantFrom(
  '{}', '[]', 'null', '"text"', '0', '-1e308', 'true', '{', '{"a":', '[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]',
  '{"passed":"yes","score":"high","maxScore":0}', '{"passed":true,"score":-5,"maxScore":100}', '{"passed":true,"score":1e308,"maxScore":1e308}',
  '[{"code":"STORIES_DONE","passed":true,"score":100,"maxScore":100}]', '[{"code":null}]', '{"issues":"not an array","passed":false,"score":0,"maxScore":100}',
  '{"\\u0000":1}', '{"passed":true,"score":100,"maxScore":100,"issues":["\\u0000"]}', '[{"code":"STORIES_DONE\\u0000","passed":true,"score":100,"maxScore":100}]',
  '{"s":"\\ud800"}', `{"k":"${'y'.repeat(100_000)}"}`,
);
const json = fc.oneof(jsonShapes, fc.json({ maxDepth: 3 }));
const textArray = fc.oneof(fc.constantFrom('{}', '{a,b}', '{"', '{NULL}', '{STORIES_DONE}', '{{1},{2}}', 'not an array'), fc.array(fc.string({ maxLength: 8 }), { maxLength: 4 }).map((xs) => `{${xs.map((x) => JSON.stringify(x)).join(',')}}`));
const time = fc.constantFrom('now', 'infinity', '-infinity', 'garbage', '', '1970-01-01', '294277-01-01', '2026-11-25T03:00:00Z', '1 hour', '-1000 years', '00:00');
const otherText = fc.oneof(text, integer, json);

function valueFor(type: string): fc.Arbitrary<string | null> {
  const t = type.replace(/ with(out)? time zone/, '');
  const base: fc.Arbitrary<string> =
    t.endsWith('[]') ? textArray
    : ['text', 'character varying', 'name', 'citext', 'character'].includes(t) ? text
    : ['integer', 'bigint', 'smallint'].includes(t) ? integer
    : ['numeric', 'double precision', 'real'].includes(t) ? numeric
    : t === 'boolean' ? bool
    : t === 'uuid' ? uuid
    : t === 'jsonb' || t === 'json' ? json
    : ['timestamp', 'date', 'interval', 'time'].includes(t) ? time
    : otherText;
  return fc.oneof({ arbitrary: fc.constant(null), weight: 1 }, { arbitrary: base, weight: 6 });
}

async function tableChecksum(): Promise<string> {
  const tables = await db.sql<{ t: string }[]>`select format('%I.%I', schemaname, tablename) as t from pg_catalog.pg_tables where schemaname = 'public' order by 1`;
  const parts = tables.map(({ t }) => `select '${t}' as t, count(*) as n, coalesce(md5(string_agg(md5(x::text), '' order by md5(x::text))), '') as h from ${t} x`);
  const rows = await db.sql.unsafe<{ t: string; n: string; h: string }[]>(parts.join(' union all '));
  return rows.map((r) => `${r.t}:${r.n}:${r.h}`).join('|');
}

describe('generated arguments to every RPC service_role may execute', () => {
  it('never answers an internal error and never changes a row when it refuses', async () => {
    const rpcs = await listRpcs();
    // The list is the database's, not ours: the core RPCs must be in it.
    expect(rpcs.map((r) => r.name)).toEqual(expect.arrayContaining(['fn_begin_handoff', 'fn_record_gate_result', 'fn_complete_handoff', 'fn_execute_handoff', 'fn_claim_sd', 'fn_check_invariants']));
    const problems: { rpc: string; args: unknown[]; code: string; message: string }[] = [];
    const outcomes = new Map<string, Record<string, number>>();
    let last = await tableChecksum();
    for (const [index, rpc] of rpcs.entries()) {
      const samples = rpc.types.length === 0
        ? [[]]
        : fc.sample(fc.tuple(...rpc.types.map(valueFor)), { numRuns: RUNS_PER_RPC, seed: SEED + index });
      const tally: Record<string, number> = {};
      for (const sample of samples) {
        const args = (sample as (string | null)[]).map((v) => (v === 'ATTEMPT' ? attemptId : v));
        // Every value travels as text and is cast by the server, so the server's input functions
        // (not the client's serialisers) judge it.
        const call = `${rpc.kind === 'p' ? 'call' : 'select * from'} public.${rpc.name}(${rpc.types.map((t, i) => `$${i + 1}::text::${t}`).join(', ')})`;
        let code = 'ok';
        let message = '';
        try {
          await asService.unsafe(call, args as never[]);
        } catch (err) {
          const e = err as { code?: string; message?: string };
          code = e.code ?? 'no-sqlstate';
          message = e.message ?? String(err);
        }
        tally[code] = (tally[code] ?? 0) + 1;
        const now = await tableChecksum();
        if (code !== 'ok') {
          const short = args.map((a) => (typeof a === 'string' && a.length > 80 ? `${a.slice(0, 40)}…(${a.length} chars)` : a));
          if (!ACCEPTABLE.test(code)) problems.push({ rpc: rpc.signature, args: short, code, message: message.slice(0, 200) });
          // …and the edge would answer it with a 4xx, not a 500 (the mapper knows the SQLSTATE)
          else if (mapDbError({ code, message }).status >= 500) problems.push({ rpc: rpc.signature, args: short, code: `${code}→${mapDbError({ code, message }).code}`, message: message.slice(0, 200) });
          if (now !== last) problems.push({ rpc: rpc.signature, args: short, code: 'CHANGED_ROWS_ON_REFUSAL', message });
        }
        last = now;
      }
      outcomes.set(rpc.signature, tally);
    }
    console.log(`bad-input RPC sweep: ${rpcs.length} RPCs, ${RUNS_PER_RPC} runs each, seed ${SEED}`);
    for (const [sig, tally] of outcomes) console.log(`  ${sig}: ${JSON.stringify(tally)}`);
    // One line per (RPC, SQLSTATE) with its first example: readable when something regresses.
    const grouped = new Map<string, { count: number; example: (typeof problems)[number] }>();
    for (const p of problems) {
      const key = `${p.rpc} ${p.code}`;
      grouped.set(key, { count: (grouped.get(key)?.count ?? 0) + 1, example: grouped.get(key)?.example ?? p });
    }
    expect([...grouped].map(([key, g]) => `${key} ×${g.count}: ${g.example.message} ← ${JSON.stringify(g.example.args)}`)).toEqual([]);
  }, 300_000);

  it('leaves no invariant violated', async () => {
    expect(await db.sql`select invariant, subject, detail from public.fn_check_invariants()`).toEqual([]);
  });
});
