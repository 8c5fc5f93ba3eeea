// SQL and TypeScript normalisers give the same answer for every input: fast-check generates
// names (canonical, mangled variants, typos, random Unicode) and distributions, and each batch
// goes to Postgres in one query over unnest(...), so thousands of cases take about a second.
import fc from 'fast-check';
import { boundedLevenshtein } from '../../shared/levenshtein.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HANDOFF_JOINERS,
  HANDOFF_TYPES,
  PHASES,
  PHASE_SYNONYMS,
  STAGE_ALIASES,
  normalizeHandoffType,
  normalizeStage,
  parseStageDistribution,
  type NormalizeResult,
} from '../../shared/stages.ts';
import { connectAs, freshDatabase, type FreshDatabase } from '../helpers/db.ts';

let db: FreshDatabase;
beforeAll(async () => {
  db = await freshDatabase();
});
afterAll(async () => {
  await db?.drop();
});

// ---- generators -------------------------------------------------------------------------------
// Independent of SEPARATOR_CODE_POINTS on purpose: every ASCII character except NUL, and the
// Unicode spaces, dashes and arrows around the ones we accept, so a character dropped from or
// added to the TypeScript set without the SQL (or the reverse) is generated either way.
const ascii = Array.from({ length: 0x7f }, (_, i) => String.fromCharCode(i + 1));
const unicodeSeparatorish = [
  0x85, 0xa0, 0x1680, 0x180e, ...Array.from({ length: 0x30 }, (_, i) => 0x2000 + i), 0x205f, 0x2060, 0x2190, 0x2191,
  0x2192, 0x2193, 0x21d2, 0x2212, 0x2794, 0x279c, 0x27f6, 0x27f9, 0x3000, 0xfe58, 0xfeff, 0xff0d,
].map((c) => String.fromCharCode(c));
const asciiPunctuation = ascii.filter((c) => !/[A-Za-z0-9]/.test(c));
const separatorish = fc.oneof(fc.noBias(fc.constantFrom(...asciiPunctuation)), fc.noBias(fc.constantFrom(...unicodeSeparatorish)));
// Characters chosen to trip a naive port: Unicode case folding (ß, ﬁ, ſ, Kelvin sign, dotted and
// dotless i), look-alike separators not in the set, control characters, astral characters.
const tricky = ['ß', 'ﬁ', 'ſ', '\u212a', 'İ', 'ı', 'é', 'Ω', '\u200c', '\u2016', '\u2190', '<', ',', '!', '\u0001', '\u001f', '\u007f', '😀', '𝐀', '漢', '\u0085', '\u180e'];
const anyChar = fc.oneof(
  separatorish,
  fc.noBias(fc.constantFrom(...tricky)),
  fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'),
  // Full Unicode minus NUL (Postgres text cannot hold it) and lone surrogates (not valid UTF-8).
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }).filter((s) => !s.includes('\u0000')),
);
const randomName = fc.array(anyChar, { maxLength: 24 }).map((cs) => cs.join(''));

const words = [...PHASES, ...Object.values(PHASE_SYNONYMS).flat()];
const sideWords = (['LEAD', 'PLAN', 'EXEC'] as const).flatMap((p) => [p, ...PHASE_SYNONYMS[p]]);
const side = fc.oneof({ weight: 4, arbitrary: fc.noBias(fc.constantFrom(...sideWords)) }, { weight: 1, arbitrary: fc.noBias(fc.constantFrom(...words)) });
const sep = fc.array(fc.oneof(separatorish, fc.constantFrom('', '_', '-', ' ')), { maxLength: 2 }).map((a) => a.join(''));
const recase = (s: string, flips: boolean[]) =>
  [...s].map((c, i) => (flips[i % Math.max(1, flips.length)] ? c.toLowerCase() : c)).join('');
// Mostly no typo, so that separators and case in otherwise valid names get exercised.
const typo = fc.tuple(
  fc.nat(),
  fc.oneof({ weight: 3, arbitrary: fc.constant('none') }, { weight: 2, arbitrary: fc.constantFrom('insert', 'delete', 'swap') }),
  fc.noBias(fc.constantFrom(...'AEIOXZ2_ é')),
);
function applyTypo(s: string, [at, kind, ch]: [number, string, string]): string {
  const i = s.length === 0 ? 0 : at % s.length;
  if (kind === 'insert') return s.slice(0, i) + ch + s.slice(i);
  if (kind === 'delete') return s.slice(0, i) + s.slice(i + 1);
  if (kind === 'swap') return s.slice(0, i) + ch + s.slice(i + 1);
  return s;
}
const mangledPhase = fc
  .tuple(fc.noBias(fc.constantFrom(...words)), sep, sep, fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }), typo)
  .map(([w, pre, post, flips, t]) => pre + applyTypo(recase(w.replace(/_/g, ' '), flips), t) + post);
const mangledHandoff = fc
  .tuple(
    side,
    fc.noBias(fc.constantFrom(...HANDOFF_JOINERS, 'to', '-TO-', '_to_', ' → ', '⇒', '->', ' 2 ', '<-')),
    side,
    fc.array(fc.boolean(), { minLength: 1, maxLength: 5 }),
    typo,
  )
  .map(([a, j, b, flips, t]) => applyTypo(recase(a + j + b, flips), t));
// Around the 200 UTF-16 unit cap, where astral characters count twice in JS.
const nearCap = fc
  .tuple(fc.integer({ min: 95, max: 105 }), fc.constantFrom('😀', 'a', 'é', ' '), fc.constantFrom('LEAD', 'exec to plan', 'xx'))
  .map(([n, c, tail]) => c.repeat(n) + tail);
// Short strings over the letters of the vocabulary: these get several suggestions, ties included.
const shortKey = fc
  .tuple(fc.string({ unit: fc.noBias(fc.constantFrom(...'ACDEILNOPTVX')), minLength: 1, maxLength: 6 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 3 }))
  .map(([s, flips]) => recase(s, flips));
const nameArb = fc.oneof(
  { weight: 2, arbitrary: shortKey },
  { weight: 2, arbitrary: fc.constantFrom(...PHASES, ...HANDOFF_TYPES) },
  { weight: 4, arbitrary: mangledPhase },
  { weight: 4, arbitrary: mangledHandoff },
  { weight: 3, arbitrary: randomName },
  { weight: 1, arbitrary: nearCap },
);

const countArb = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 50 }) },
  { weight: 1, arbitrary: fc.constantFrom(-1, 2147483647, 2147483648, 1.5, 1e21, -0) },
  { weight: 1, arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }) },
  { weight: 1, arbitrary: fc.constantFrom<unknown>('3', null, true, [1], { n: 1 }) },
);
const distributionArb = fc.oneof(
  { weight: 4, arbitrary: fc.dictionary(nameArb, countArb, { maxKeys: 8 }) },
  { weight: 3, arbitrary: fc.array(fc.oneof({ weight: 5, arbitrary: nameArb }, { weight: 1, arbitrary: countArb }), { maxLength: 8 }) },
  { weight: 1, arbitrary: nameArb },
  { weight: 1, arbitrary: fc.constantFrom<unknown>(null, 3, true) },
);

// ---- comparison --------------------------------------------------------------------------------
interface SqlNormalized {
  normalized: string | null;
  fixes: string[];
  suggestions: string[];
}
const asSql = (r: NormalizeResult<string>): SqlNormalized =>
  r.ok ? { normalized: r.value, fixes: r.fixes, suggestions: [] } : { normalized: null, fixes: [], suggestions: r.suggestions };

async function sqlNormalize(names: string[]) {
  return db.sql<{ stage: SqlNormalized; handoff: SqlNormalized }[]>`
    select public.normalize_stage(x) as stage, public.normalize_handoff_type(x) as handoff
    from unnest(${db.sql.array(names)}::text[]) with ordinality as u (x, i)
    order by i`;
}

describe('stage normalisation: SQL = TypeScript', () => {
  it('runs on a UTF8 database (the SQL relies on it)', async () => {
    const [row] = await db.sql`show server_encoding`;
    expect(row?.server_encoding).toBe('UTF8');
  });

  it('stage_synonyms and stage_vocabulary hold exactly the TypeScript tables', async () => {
    const rows = await db.sql<{ kind: string; alias: string; canonical: string; suggest: boolean }[]>`
      select kind, alias, canonical, suggest from public.stage_synonyms`;
    const key = (r: { kind: string; alias: string }) => `${r.kind}:${r.alias}`;
    const sorted = <T extends { kind: string; alias: string }>(xs: readonly T[]) =>
      [...xs].map((r) => ({ ...r })).sort((a, b) => (key(a) < key(b) ? -1 : 1));
    expect(sorted(rows)).toEqual(sorted(STAGE_ALIASES));
    const vocab = await db.sql<{ kind: string; value: string }[]>`
      select kind, value from public.stage_vocabulary order by kind, position`;
    expect(vocab.filter((v) => v.kind === 'phase').map((v) => v.value)).toEqual([...PHASES]);
    expect(vocab.filter((v) => v.kind === 'handoff').map((v) => v.value)).toEqual([...HANDOFF_TYPES]);
  });

  it('edge cases agree', async () => {
    const cases = [
      '', ' ', 'EXEC', 'exec', ' Exec ', 'ExecToPlan', 'exec_to_plan', 'exec to plan', 'EXEC→PLAN', 'exec2plan',
      'PLAN<-EXEC', 'verificaton', 'vérification', 'LEAD😀', 'ſtage', 'EXEC\u212a', 'straße', 'ﬁnished', 'İmpl',
      '\u00a0lead\u3000', '\ufeffplan', 'lead\u200c', 'x'.repeat(200), 'x'.repeat(201), '😀'.repeat(100),
      '😀'.repeat(99) + 'LEA', '😀'.repeat(98) + 'LEAD', 'a\u0001b', 'DONE', 'exec-complete', 'Exec Implementation',
    ];
    // Every ASCII character and every Unicode separator candidate, inside and around a name.
    for (const c of [...ascii, ...unicodeSeparatorish, ...tricky]) cases.push(`exec${c}plan`, `${c}Lead`, `verify${c}`);
    const rows = await sqlNormalize(cases);
    cases.forEach((c, i) => {
      expect({ c, ...rows[i]!.stage }).toEqual({ c, ...asSql(normalizeStage(c)) });
      expect({ c, ...rows[i]!.handoff }).toEqual({ c, ...asSql(normalizeHandoffType(c)) });
    });
  });

  it('normalize_stage and normalize_handoff_type agree on generated names', async () => {
    let total = 0;
    const t0 = performance.now();
    await fc.assert(
      fc.asyncProperty(fc.array(nameArb, { minLength: 100, maxLength: 300 }), async (names) => {
        const rows = await sqlNormalize(names);
        total += names.length;
        const sqlSide = rows.map((r, i) => ({ input: names[i], stage: r.stage, handoff: r.handoff }));
        const tsSide = names.map((n) => ({
          input: n,
          stage: asSql(normalizeStage(n)),
          handoff: asSql(normalizeHandoffType(n)),
        }));
        expect(sqlSide).toEqual(tsSide);
      }),
      { numRuns: 12 },
    );
    expect(total).toBeGreaterThanOrEqual(1200);
    console.log(`[stages-parity] ${total} names x 2 normalisers in ${Math.round(performance.now() - t0)} ms`);
  });

  it('parse_stage_distribution agrees on generated distributions', async () => {
    let total = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(distributionArb, { minLength: 50, maxLength: 150 }), async (inputs) => {
        // Both sides see the value the JSON text denotes: that is what a client sends.
        const json = JSON.stringify(inputs);
        const rows = await db.sql<{ d: unknown }[]>`
          select public.parse_stage_distribution(x) as d
          from jsonb_array_elements(${json}::text::jsonb) with ordinality as u (x, i)
          order by i`;
        total += inputs.length;
        const parsed = JSON.parse(json) as unknown[];
        expect(rows.map((r) => r.d)).toEqual(parsed.map((v) => parseStageDistribution(v)));
      }),
      { numRuns: 10 },
    );
    expect(total).toBeGreaterThanOrEqual(500);
  });

  it('stage_edit_distance equals boundedLevenshtein', async () => {
    const key = fc.string({ unit: fc.constantFrom(...'ABCEIL2'), maxLength: 14 });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(key, key, fc.integer({ min: 0, max: 4 })), { minLength: 200, maxLength: 200 }), async (pairs) => {
        const rows = await db.sql<{ d: number }[]>`
          select public.stage_edit_distance(a, b, m) as d
          from unnest(${db.sql.array(pairs.map((p) => p[0]))}::text[], ${db.sql.array(pairs.map((p) => p[1]))}::text[],
                      ${db.sql.array(pairs.map((p) => p[2]))}::int[]) with ordinality as u (a, b, m, i)
          order by i`;
        expect(rows.map((r) => r.d)).toEqual(pairs.map(([a, b, m]) => boundedLevenshtein(a, b, m)));
      }),
      { numRuns: 5 },
    );
  });

  it('authenticated and service_role may call the normalisers; anon may not', async () => {
    for (const role of ['authenticated', 'service_role'] as const) {
      const as = connectAs(db.url, role);
      try {
        const [row] = await as`select public.normalize_stage('exec') ->> 'normalized' as v,
          public.parse_stage_distribution('{"plan": 2}') -> 'sum' as s`;
        expect(row).toEqual({ v: 'EXEC', s: 2 });
      } finally {
        await as.end();
      }
    }
    const anon = connectAs(db.url, 'anon');
    try {
      await expect(anon`select public.normalize_stage('exec')`).rejects.toMatchObject({ code: '42501' });
      await expect(anon`select * from public.stage_synonyms`).rejects.toMatchObject({ code: '42501' });
      await expect(anon`select public.fn_backfill_stage_batch('leo_sub_agents', 1)`).rejects.toMatchObject({ code: '42501' });
    } finally {
      await anon.end();
    }
  });

  it('rejects more than 10 000 entries the same way', async () => {
    const big = Object.fromEntries(Array.from({ length: 10_001 }, (_, i) => [`k${i}`, 1]));
    const [row] = await db.sql<{ d: unknown }[]>`select public.parse_stage_distribution(${JSON.stringify(big)}::text::jsonb) as d`;
    expect(row?.d).toEqual(parseStageDistribution(big));
    expect(parseStageDistribution(big).invalidInputs).toEqual(['#input:too-many-entries']);
  });
});
