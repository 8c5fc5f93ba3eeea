import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { boundedLevenshtein } from '../../shared/levenshtein.ts';
import {
  HANDOFF_TYPES,
  MAX_DISTRIBUTION_ENTRIES,
  PHASES,
  PHASE_SYNONYMS,
  STAGE_ALIASES,
  compareCodePoints,
  normalizeHandoffType,
  normalizeStage,
  parseStageDistribution,
} from '../../shared/stages.ts';

const ok = (value: string, fixes: string[] = []) => ({ ok: true, value, fixes });
const bad = (suggestions: string[] = []) => ({ ok: false, suggestions });

describe('normalizeHandoffType', () => {
  it.each([
    ['EXEC-TO-PLAN', []],
    ['exec-to-plan', ['case']],
    ['ExecToPlan', ['case', 'separators']],
    ['execToPlan', ['case', 'separators']],
    ['exec_to_plan', ['case', 'separators']],
    ['exec to plan', ['case', 'separators']],
    ['  EXEC TO PLAN\n', ['trim', 'separators']],
    ['EXEC→PLAN', ['synonym']],
    ['exec -> plan', ['case', 'synonym']],
    ['exec2plan', ['case', 'synonym']],
    ['EXECTOPLAN', ['separators']],
    ['implementation to planning', ['case', 'synonym']],
    ['Execution→Plan', ['case', 'synonym']],
  ])('%j is EXEC-TO-PLAN with fixes %j', (input, fixes) => {
    expect(normalizeHandoffType(input)).toEqual(ok('EXEC-TO-PLAN', fixes));
  });

  it('knows all four types and the approval synonym for LEAD', () => {
    expect(normalizeHandoffType('lead_to_plan')).toMatchObject({ ok: true, value: 'LEAD-TO-PLAN' });
    expect(normalizeHandoffType('PlanToExec')).toMatchObject({ ok: true, value: 'PLAN-TO-EXEC' });
    expect(normalizeHandoffType('planning2approval')).toMatchObject({ ok: true, value: 'PLAN-TO-LEAD' });
  });

  it('refuses a reversed arrow and a pair that is not a handoff type, with suggestions', () => {
    expect(normalizeHandoffType('PLAN<-EXEC')).toEqual(bad(['PLAN-TO-EXEC']));
    expect(normalizeHandoffType('EXEC-TO-LEAD')).toEqual(bad(['EXEC-TO-PLAN']));
    expect(normalizeHandoffType('lead to plam')).toEqual(bad(['LEAD-TO-PLAN']));
    expect(normalizeHandoffType('deploy')).toEqual(bad());
  });
});

describe('normalizeStage', () => {
  it.each([
    ['EXEC', 'EXEC', []],
    ['exec', 'EXEC', ['case']],
    [' Plan ', 'PLAN', ['trim', 'case']],
    ['exec implementation', 'EXEC_IMPLEMENTATION', ['case', 'separators']],
    ['ExecComplete', 'EXEC_COMPLETE', ['case', 'separators']],
    ['IMPLEMENTATION', 'EXEC', ['synonym']],
    ['planning', 'PLAN', ['case', 'synonym']],
    ['Approval', 'LEAD', ['case', 'synonym']],
    ['Leadership', 'LEAD', ['case', 'synonym']],
    ['verify', 'VERIFICATION', ['case', 'synonym']],
    ['VALIDATION', 'VERIFICATION', ['synonym']],
    ['done', 'COMPLETED', ['case', 'synonym']],
    ['Complete', 'COMPLETED', ['case', 'synonym']],
    ['\u00a0lead\u3000', 'LEAD', ['trim', 'case']],
  ])('%j is %s with fixes %j', (input, value, fixes) => {
    expect(normalizeStage(input)).toEqual(ok(value, fixes));
  });

  it('suggests by edit distance, ties in canonical order, at most 3', () => {
    expect(normalizeStage('verificaton')).toEqual(bad(['VERIFICATION']));
    expect(normalizeStage('implementaton')).toEqual(bad(['EXEC']));
    expect(normalizeStage('DEAN')).toEqual(bad(['LEAD', 'PLAN'])); // both at distance 2: canonical order
    expect(normalizeStage('LAN')).toEqual(bad(['PLAN', 'LEAD'])); // distance 1 before distance 2
    expect(normalizeStage('PLED')).toEqual(bad(['LEAD', 'PLAN', 'COMPLETED']));
    expect(normalizeStage('exce')).toEqual(bad(['EXEC']));
    expect(normalizeStage('deploy')).toEqual(bad());
    expect(normalizeStage('x')).toEqual(bad());
  });

  it('treats non-ASCII letters as foreign but still suggests from the rest', () => {
    expect(normalizeStage('vérification')).toEqual(bad(['VERIFICATION']));
    expect(normalizeStage('LEAD😀')).toEqual(bad(['LEAD']));
    // toUpperCase() would turn these into ASCII (ſ -> S, ı -> I, K sign -> K); we must not.
    expect(normalizeStage('ſtage').ok).toBe(false);
    expect(normalizeStage('ımpl')).toEqual(bad(['EXEC']));
    expect(normalizeStage('EXEC\u212a').ok).toBe(false);
  });

  it('never throws on hostile input and reports it invalid', () => {
    const hostile: unknown[] = [
      null, undefined, 42, {}, [], Symbol('x'), () => 'EXEC', new String('EXEC'),
      '', '\u0000', 'EX\u0000EC', '\ud800', 'EXEC\udfff', 'a\u0007b', 'E'.repeat(201), 'x'.repeat(1_000_000),
    ];
    for (const h of hostile) {
      expect(normalizeStage(h as string).ok).toBe(false);
      expect(normalizeHandoffType(h as string).ok).toBe(false);
    }
    expect(normalizeStage('x'.repeat(1_000_000))).toEqual(bad());
  });

  it('caps names at 200 UTF-16 code units before any edit distance', () => {
    expect(normalizeStage(' '.repeat(196) + 'EXEC')).toEqual(ok('EXEC', ['trim']));
    expect(normalizeStage(' '.repeat(197) + 'EXEC')).toEqual(bad());
    expect(normalizeStage('😀'.repeat(98) + 'LEAD')).toEqual(bad(['LEAD']));
    expect(normalizeStage('😀'.repeat(99) + 'LEAD')).toEqual(bad());
  });
});

describe('properties', () => {
  const mangle = (canonical: string) =>
    fc
      .tuple(
        fc.array(fc.boolean(), { minLength: canonical.length, maxLength: canonical.length }),
        fc.constantFrom('_', '-', ' ', '', '  ', ' - ', '.', '\t', '\u2013'),
        fc.constantFrom('', ' ', '\n', '\u00a0'),
      )
      .map(([lower, separator, pad]) => {
        const body = [...canonical].map((c, i) => (lower[i] ? c.toLowerCase() : c)).join('');
        return pad + body.replace(/[-_]/g, separator) + pad;
      });

  it('a canonical value normalises to itself with no fixes (idempotence)', () => {
    for (const p of PHASES) expect(normalizeStage(p)).toEqual(ok(p));
    for (const h of HANDOFF_TYPES) expect(normalizeHandoffType(h)).toEqual(ok(h));
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), (s) => {
        const once = normalizeStage(s);
        if (once.ok) expect(normalizeStage(once.value)).toEqual(ok(once.value));
      }),
    );
  });

  it('every phase survives random case, separator and padding mangling', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...PHASES).chain((p) => fc.tuple(fc.constant(p), mangle(p))),
        ([phase, mangled]) => {
          const r = normalizeStage(mangled);
          expect(r).toMatchObject({ ok: true, value: phase });
        },
      ),
    );
  });

  it('every handoff type survives random case, separator and padding mangling', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...HANDOFF_TYPES).chain((t) => fc.tuple(fc.constant(t), mangle(t))),
        ([type, mangled]) => {
          expect(normalizeHandoffType(mangled)).toMatchObject({ ok: true, value: type });
        },
      ),
    );
  });

  it('every alias in the table is accepted as itself', () => {
    for (const a of STAGE_ALIASES) {
      const r = a.kind === 'phase' ? normalizeStage(a.alias) : normalizeHandoffType(a.alias);
      expect(r).toMatchObject({ ok: true, value: a.canonical });
    }
    expect(Object.keys(PHASE_SYNONYMS).sort()).toEqual([...PHASES].sort());
  });

  it('bounded Levenshtein equals the textbook distance, capped at max + 1', () => {
    const naive = (a: string, b: string): number => {
      const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
      for (let j = 1; j <= b.length; j++) d[0]![j] = j;
      for (let i = 1; i <= a.length; i++)
        for (let j = 1; j <= b.length; j++)
          d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
      return d[a.length]![b.length]!;
    };
    const word = fc.string({ unit: fc.constantFrom(...'ABCE'), maxLength: 12 });
    fc.assert(
      fc.property(word, word, fc.integer({ min: 0, max: 6 }), (a, b, max) => {
        expect(boundedLevenshtein(a, b, max)).toBe(Math.min(naive(a, b), max + 1));
      }),
    );
  });

  it('compareCodePoints orders like Postgres "C" collation (code points), not UTF-16 units', () => {
    expect(['\uffff', '😀', 'a'].sort(compareCodePoints)).toEqual(['a', '\uffff', '😀']);
    // Code points from every plane, surrogate range excluded (Postgres text cannot hold them).
    const codePoint = fc.oneof(
      fc.integer({ min: 1, max: 0xd7ff }),
      fc.integer({ min: 0xe000, max: 0xffff }),
      fc.integer({ min: 0x10000, max: 0x10ffff }),
    );
    const cpArray = fc.array(codePoint, { maxLength: 6 });
    fc.assert(
      fc.property(cpArray, cpArray, (x, y) => {
        const [a, b] = [String.fromCodePoint(...x), String.fromCodePoint(...y)];
        let expected = 0;
        for (let i = 0; i < Math.min(x.length, y.length) && expected === 0; i++) expected = x[i]! - y[i]!;
        if (expected === 0) expected = x.length - y.length;
        expect(Math.sign(compareCodePoints(a, b))).toBe(Math.sign(expected));
      }),
    );
  });
});

describe('parseStageDistribution', () => {
  it('normalises the memo example', () => {
    expect(parseStageDistribution({ exec: 3, Plan: 2, 'lead ': 1, verificaton: 4 })).toEqual({
      normalized: { LEAD: 1, PLAN: 2, EXEC: 3 },
      invalidInputs: ['verificaton'],
      suggestions: { verificaton: ['VERIFICATION'] },
      sum: 6,
    });
  });

  it('sums variants of one stage, counts array entries, and reports bad counts', () => {
    expect(parseStageDistribution({ exec: 3, EXEC: 1, implementation: 2, done: -1, plan: 1.5, lead: '2' })).toEqual({
      normalized: { EXEC: 6 },
      invalidInputs: ['done', 'lead', 'plan'],
      suggestions: { done: [], lead: [], plan: [] },
      sum: 6,
    });
    expect(parseStageDistribution(['exec', 'Exec', 'plan', 7, null, 'foo', 'foo'])).toEqual({
      normalized: { PLAN: 1, EXEC: 2 },
      invalidInputs: ['#3:number', '#4:null', 'foo'],
      suggestions: { '#3:number': [], '#4:null': [], foo: [] },
      sum: 3,
    });
    expect(parseStageDistribution('verify')).toMatchObject({ normalized: { VERIFICATION: 1 }, sum: 1 });
  });

  it('orders invalid object keys by code point, whatever the insertion order', () => {
    const r = parseStageDistribution({ zz: 1, '😀': 1, '\uffff': 1, '10': 1, aa: 1 });
    expect(r.invalidInputs).toEqual(['10', 'aa', 'zz', '\uffff', '😀']);
  });

  it('never throws and keeps hostile keys as plain data', () => {
    const proto = parseStageDistribution(JSON.parse('{"__proto__": 1, "constructor": 2, "exec": 1}'));
    expect(proto.invalidInputs).toEqual(['__proto__', 'constructor']);
    expect(Object.getPrototypeOf(proto.suggestions)).toBe(Object.prototype);
    expect(Object.hasOwn(proto.suggestions, '__proto__')).toBe(true);

    const throwing = new Proxy({}, { ownKeys: () => { throw new Error('boom'); } });
    expect(parseStageDistribution(throwing).invalidInputs).toEqual(['#input:unreadable']);
    const getter = Object.defineProperty({}, 'exec', { enumerable: true, get: () => { throw new Error('boom'); } });
    expect(parseStageDistribution(getter).invalidInputs).toEqual(['#input:unreadable']);
    expect(parseStageDistribution(new Map([['exec', 1]])).invalidInputs).toEqual(['#input:unsupported']);
    expect(parseStageDistribution(undefined).invalidInputs).toEqual(['#input:undefined']);
    expect(parseStageDistribution(5).invalidInputs).toEqual(['#input:number']);
    expect(parseStageDistribution(null).invalidInputs).toEqual(['#input:null']);
    expect(parseStageDistribution(Array(MAX_DISTRIBUTION_ENTRIES + 1).fill('exec'))).toEqual({
      normalized: {},
      invalidInputs: ['#input:too-many-entries'],
      suggestions: { '#input:too-many-entries': [] },
      sum: 0,
    });
    expect(parseStageDistribution({ exec: 2147483647, plan: 2147483648 })).toMatchObject({ sum: 2147483647, invalidInputs: ['plan'] });
  });

  it('sum always equals the total of normalized counts', () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string({ maxLength: 12 }), fc.oneof(fc.nat(), fc.double(), fc.string())), (d) => {
        const r = parseStageDistribution(d);
        expect(r.sum).toBe(Object.values(r.normalized).reduce((a, b) => a + b, 0));
        expect(Object.keys(r.suggestions).sort()).toEqual([...r.invalidInputs].sort());
      }),
    );
  });
});
