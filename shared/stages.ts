// Stage, phase and handoff-type normalisation. The SQL twin lives in
// supabase/schemas/07_stages.sql (normalize_stage,
// normalize_handoff_type, parse_stage_distribution, table stage_synonyms); the parity
// test (tests/db/stages-parity.test.ts) proves both give the same answer for every input,
// and that STAGE_ALIASES below equals the rows of stage_synonyms.
//
// Rules (both languages):
// - input longer than MAX_NAME_LENGTH UTF-16 code units: invalid, no suggestions;
// - ASCII letters fold to upper case, ASCII digits are kept, separator characters
//   (SEPARATOR_CODE_POINTS) are dropped, anything else (other punctuation, control
//   characters, non-ASCII letters) is "foreign": the name is invalid, but suggestions are
//   still computed from the letters and digits, so "vérification" suggests VERIFICATION.
//   Only ASCII is ever case-folded: upper() in SQL and toUpperCase() in JS disagree on
//   characters such as 'ß' and 'ﬁ', so neither is used.
// - the squashed key is looked up in the alias table; a miss gets up to 3 suggestions
//   ranked by edit distance to the closest alias, then canonical order.
import { boundedLevenshtein } from './levenshtein.ts';

export const PHASES = [
  'LEAD',
  'PLAN',
  'EXEC',
  'EXEC_IMPLEMENTATION',
  'EXEC_COMPLETE',
  'VERIFICATION',
  'COMPLETED',
] as const;
export type Phase = (typeof PHASES)[number];

// A stage distribution counts work per phase, so the phase list is the stage vocabulary.
export const STAGES = PHASES;
export type Stage = Phase;

export const HANDOFF_TYPES = ['LEAD-TO-PLAN', 'PLAN-TO-EXEC', 'EXEC-TO-PLAN', 'PLAN-TO-LEAD'] as const;
export type HandoffType = (typeof HANDOFF_TYPES)[number];

/** Extra squashed keys (A-Z0-9 only) per phase, besides the phase's own squashed name. */
export const PHASE_SYNONYMS: Readonly<Record<Phase, readonly string[]>> = {
  LEAD: ['LEADER', 'LEADERSHIP', 'APPROVAL'],
  PLAN: ['PLANNING', 'PLANNER'],
  EXEC: ['EXECUTE', 'EXECUTION', 'EXECUTING', 'IMPLEMENT', 'IMPLEMENTATION', 'IMPL'],
  EXEC_IMPLEMENTATION: ['EXECIMPL'],
  EXEC_COMPLETE: ['EXECDONE', 'EXECCOMPLETED', 'EXECUTIONCOMPLETE'],
  VERIFICATION: ['VERIFY', 'VERIFYING', 'VALIDATION', 'VALIDATE'],
  COMPLETED: ['COMPLETE', 'DONE', 'FINISHED', 'CLOSED'],
};

/** What joins the two sides of a squashed handoff key: EXECTOPLAN, EXEC2PLAN, EXEC→PLAN. */
export const HANDOFF_JOINERS = ['TO', '2', ''] as const;

export const MAX_NAME_LENGTH = 200;
export const MAX_DISTRIBUTION_ENTRIES = 10_000;
export const MAX_STAGE_COUNT = 2_147_483_647;

/** Dropped between words: ASCII whitespace and punctuation used as separators, Unicode
 *  spaces, dashes and arrows. '<' is deliberately absent: PLAN<-EXEC must not read as
 *  PLAN-TO-EXEC. */
export const SEPARATOR_CODE_POINTS: readonly number[] = [
  0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x2d, 0x2e, 0x2f, 0x3a, 0x3d, 0x3e, 0x5c, 0x5f, 0x7c, 0x7e,
  0xa0, 0x1680, 0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009,
  0x200a, 0x200b, 0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2028, 0x2029, 0x202f,
  0x205f, 0x2192, 0x21d2, 0x2212, 0x2794, 0x279c, 0x27f6, 0x27f9, 0x3000, 0xfeff,
];

export type StageFix = 'trim' | 'case' | 'separators' | 'synonym';
export type NormalizeResult<T extends string> =
  | { ok: true; value: T; fixes: StageFix[] }
  | { ok: false; suggestions: T[] };

export interface StageAlias {
  kind: 'phase' | 'handoff';
  alias: string;
  canonical: string;
  /** Only these aliases are edit-distance candidates (keeps suggestion cost bounded). */
  suggest: boolean;
}

const squash = (canonical: string): string => canonical.replace(/[-_]/g, '');

function buildAliases(): StageAlias[] {
  const rows: StageAlias[] = [];
  for (const phase of PHASES) {
    for (const alias of [squash(phase), ...PHASE_SYNONYMS[phase]]) {
      rows.push({ kind: 'phase', alias, canonical: phase, suggest: true });
    }
  }
  const sides = (p: Phase) => [p, ...PHASE_SYNONYMS[p]];
  for (const type of HANDOFF_TYPES) {
    const [from, to] = type.split('-TO-') as [Phase, Phase];
    for (const a of sides(from)) {
      for (const b of sides(to)) {
        for (const joiner of HANDOFF_JOINERS) {
          rows.push({
            kind: 'handoff',
            alias: a + joiner + b,
            canonical: type,
            suggest: a === from && b === to,
          });
        }
      }
    }
  }
  return rows;
}

/** Every accepted squashed key; equals the rows of public.stage_synonyms. */
export const STAGE_ALIASES: readonly StageAlias[] = buildAliases();

interface Candidate {
  alias: string;
  canonical: string;
  position: number;
  maxDistance: number;
}

interface Vocabulary {
  canonical: ReadonlySet<string>;
  byKey: ReadonlyMap<string, string>;
  candidates: readonly Candidate[];
  /** A longer key can neither match an alias nor be within suggestion distance of one. */
  maxKeyLength: number;
}

function buildVocabulary(kind: StageAlias['kind'], values: readonly string[]): Vocabulary {
  const byKey = new Map<string, string>();
  const candidates: Candidate[] = [];
  for (const row of STAGE_ALIASES) {
    if (row.kind !== kind) continue;
    const seen = byKey.get(row.alias);
    if (seen !== undefined && seen !== row.canonical) {
      throw new Error(`stage alias ${row.alias} maps to both ${seen} and ${row.canonical}`);
    }
    byKey.set(row.alias, row.canonical);
    if (row.suggest) {
      candidates.push({
        alias: row.alias,
        canonical: row.canonical,
        position: values.indexOf(row.canonical),
        maxDistance: suggestionDistance(row.alias),
      });
    }
  }
  const maxKeyLength = Math.max(...[...byKey.keys()].map((k) => k.length), ...candidates.map((c) => c.alias.length + c.maxDistance));
  return { canonical: new Set(values), byKey, candidates, maxKeyLength };
}

/** How far a typo may be from an alias and still be suggested: 1 for 2-3 letters, 2 for 4-5, 3 beyond. */
export const suggestionDistance = (alias: string): number => Math.min(3, Math.floor(alias.length / 2));

const PHASE_VOCAB = buildVocabulary('phase', PHASES);
const HANDOFF_VOCAB = buildVocabulary('handoff', HANDOFF_TYPES);

// Character classes by UTF-16 code unit. Separators are all BMP non-surrogates, so
// surrogate halves (astral characters) are simply foreign, exactly as in SQL.
// 0 (the default) is "foreign".
const UPPER = 1;
const LOWER = 2;
const DIGIT = 3;
const SEPARATOR = 4;
const CLASS = new Uint8Array(0x10000);
for (let c = 0x41; c <= 0x5a; c++) CLASS[c] = UPPER;
for (let c = 0x61; c <= 0x7a; c++) CLASS[c] = LOWER;
for (let c = 0x30; c <= 0x39; c++) CLASS[c] = DIGIT;
for (const c of SEPARATOR_CODE_POINTS) CLASS[c] = SEPARATOR;

function normalizeName(vocab: Vocabulary, input: unknown): NormalizeResult<string> {
  if (typeof input !== 'string' || input.length > MAX_NAME_LENGTH) return { ok: false, suggestions: [] };
  if (vocab.canonical.has(input)) return { ok: true, value: input, fixes: [] };

  let key = '';
  let foreign = false;
  let lowercase = false;
  let first = -1;
  let last = -1;
  for (let i = 0; i < input.length; i++) {
    const cls = CLASS[input.charCodeAt(i)];
    if (cls === SEPARATOR) continue;
    if (first < 0) first = i;
    last = i;
    if (cls === UPPER || cls === DIGIT) key += input[i];
    else if (cls === LOWER) {
      lowercase = true;
      key += String.fromCharCode(input.charCodeAt(i) - 32);
    } else foreign = true;
    if (key.length > vocab.maxKeyLength) return { ok: false, suggestions: [] };
  }

  const value = foreign ? undefined : vocab.byKey.get(key);
  if (value === undefined) return { ok: false, suggestions: key === '' ? [] : suggest(vocab, key) };

  const fixes: StageFix[] = [];
  if (first !== 0 || last !== input.length - 1) fixes.push('trim');
  if (lowercase) fixes.push('case');
  if (key !== squash(value)) fixes.push('synonym');
  else if (!sameIgnoringAsciiCase(input, first, last + 1, value)) fixes.push('separators');
  return { ok: true, value, fixes: fixes.length > 1 ? sortFixes(fixes) : fixes };
}

const FIX_ORDER: readonly StageFix[] = ['trim', 'case', 'separators', 'synonym'];
const sortFixes = (fixes: StageFix[]): StageFix[] => FIX_ORDER.filter((f) => fixes.includes(f));

function sameIgnoringAsciiCase(input: string, from: number, to: number, canonical: string): boolean {
  if (to - from !== canonical.length) return false;
  for (let i = from; i < to; i++) {
    let c = input.charCodeAt(i);
    if (c >= 0x61 && c <= 0x7a) c -= 32;
    if (c !== canonical.charCodeAt(i - from)) return false;
  }
  return true;
}

function suggest(vocab: Vocabulary, key: string): string[] {
  const best = new Map<string, { distance: number; position: number }>();
  for (const c of vocab.candidates) {
    if (Math.abs(key.length - c.alias.length) > c.maxDistance) continue;
    const distance = boundedLevenshtein(key, c.alias, c.maxDistance);
    if (distance > c.maxDistance) continue;
    const prior = best.get(c.canonical);
    if (prior === undefined || distance < prior.distance) best.set(c.canonical, { distance, position: c.position });
  }
  return [...best.entries()]
    .sort(([, a], [, b]) => a.distance - b.distance || a.position - b.position)
    .slice(0, 3)
    .map(([canonical]) => canonical);
}

export function normalizeStage(input: string): NormalizeResult<Phase> {
  return normalizeName(PHASE_VOCAB, input) as NormalizeResult<Phase>;
}

export function normalizeHandoffType(input: string): NormalizeResult<HandoffType> {
  return normalizeName(HANDOFF_VOCAB, input) as NormalizeResult<HandoffType>;
}

export interface StageDistribution {
  /** Canonical stage → summed count, in canonical order. */
  normalized: Partial<Record<Stage, number>>;
  /** Names not understood, or whose count is not an integer in [0, MAX_STAGE_COUNT];
   *  a non-string array entry is reported as `#<index>:<json type>`, an unusable whole
   *  input as `#input:<reason>`. Array order for arrays, code point order for objects. */
  invalidInputs: string[];
  /** Each invalid input → up to 3 canonical stages it may have meant (possibly none). */
  suggestions: Record<string, Stage[]>;
  sum: number;
}

const jsonType = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;

const rejectWhole = (reason: string): StageDistribution => ({
  normalized: {},
  invalidInputs: [`#input:${reason}`],
  suggestions: { [`#input:${reason}`]: [] },
  sum: 0,
});

/** Accepts `{ name: count }`, an array of names (each counts 1) or one name. Never throws. */
export function parseStageDistribution(input: unknown): StageDistribution {
  try {
    return parseDistribution(input);
  } catch {
    // Only hostile objects get here (throwing getters, revoked proxies).
    return rejectWhole('unreadable');
  }
}

function parseDistribution(input: unknown): StageDistribution {
  let entries: Array<[name: unknown, count: unknown, index: number]>;
  let isObject = false;
  if (typeof input === 'string') entries = [[input, 1, 0]];
  else if (Array.isArray(input)) {
    if (input.length > MAX_DISTRIBUTION_ENTRIES) return rejectWhole('too-many-entries');
    entries = [];
    for (let i = 0; i < input.length; i++) entries.push([input[i], 1, i]);
  } else if (input !== null && typeof input === 'object') {
    const proto = Object.getPrototypeOf(input);
    if (proto !== Object.prototype && proto !== null) return rejectWhole('unsupported');
    const keys = Object.keys(input);
    if (keys.length > MAX_DISTRIBUTION_ENTRIES) return rejectWhole('too-many-entries');
    isObject = true;
    entries = keys.map((k, i) => [k, (input as Record<string, unknown>)[k], i]);
  } else return rejectWhole(jsonType(input));

  const totals = new Map<Phase, number>();
  const invalid = new Map<string, Phase[]>();
  for (const [name, count, index] of entries) {
    if (typeof name !== 'string') {
      invalid.set(`#${index}:${jsonType(name)}`, []);
      continue;
    }
    const result = normalizeStage(name);
    if (!result.ok) {
      if (!invalid.has(name)) invalid.set(name, result.suggestions);
    } else if (typeof count !== 'number' || !Number.isInteger(count) || count < 0 || count > MAX_STAGE_COUNT) {
      if (!invalid.has(name)) invalid.set(name, []);
    } else totals.set(result.value, (totals.get(result.value) ?? 0) + count);
  }

  const normalized: Partial<Record<Stage, number>> = {};
  let sum = 0;
  for (const phase of PHASES) {
    const total = totals.get(phase);
    if (total === undefined) continue;
    normalized[phase] = total;
    sum += total;
  }
  const invalidInputs = [...invalid.keys()];
  if (isObject) invalidInputs.sort(compareCodePoints);
  return {
    normalized,
    invalidInputs,
    suggestions: Object.fromEntries(invalidInputs.map((k) => [k, invalid.get(k)!])),
    sum,
  };
}

/** Code point order, the order of Postgres' "C" collation on UTF-8 text; plain `<` on
 *  JS strings compares UTF-16 code units and misplaces astral characters. */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return surrogateFix(x) - surrogateFix(y);
  }
  return a.length - b.length;
}

const surrogateFix = (c: number): number => (c >= 0xe000 ? c - 0x800 : c >= 0xd800 ? c + 0x2000 : c);
