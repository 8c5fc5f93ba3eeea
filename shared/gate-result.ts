// Gate-result schema (seed pattern 7): the one shape every sub-agent result is normalised to
// before it is recorded. Non-strict mode repairs the variations agents are known to send and
// records every repair; strict mode refuses anything that needed one.
import { z } from 'zod';
import { replaceUnstorable } from './safe-text.ts';

export const GateResultSchema = z
  .object({
    passed: z.boolean(),
    score: z.number().min(0),
    maxScore: z.number().positive(),
    issues: z.array(z.string()),
    warnings: z.array(z.string()),
    details: z.unknown().optional(),
  })
  // A score above the maximum is rejected, not clamped: it means the agent computed its score
  // wrongly, and clamping would silently turn a broken agent into a full pass.
  .refine((r) => r.score <= r.maxScore, { message: 'score must not exceed maxScore', path: ['score'] })
  .meta({ id: 'GateResult', description: 'Normalised result of one gate (sub-agent).' });

export type GateResult = z.infer<typeof GateResultSchema>;

export type NormalizeResult =
  | { ok: true; result: GateResult; fixes: string[] }
  | { ok: false; error: string };

export const DEFAULT_MAX_SCORE = 100;

type Fixer = { fixes: string[]; fail?: string };

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function toNumber(field: string, v: unknown, fx: Fixer): unknown {
  if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) {
    fx.fixes.push(`coerced ${field} from string "${v}" to number`);
    return Number(v);
  }
  if (typeof v === 'number' && !Number.isFinite(v)) fx.fail ??= `${field} must be a finite number, got ${v}`;
  return v;
}

function toPassed(v: unknown, fx: Fixer): unknown {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) {
      fx.fail ??= `passed must be a boolean, got ${v}`;
      return v;
    }
    fx.fixes.push(`coerced passed from number ${v} to ${v > 0}`);
    return v > 0;
  }
  if (typeof v === 'string' && /^(true|false)$/i.test(v.trim())) {
    const b = v.trim().toLowerCase() === 'true';
    fx.fixes.push(`coerced passed from string "${v}" to ${b}`);
    return b;
  }
  return v;
}

function toMessages(field: string, v: unknown, fx: Fixer): unknown {
  if (typeof v === 'string') {
    fx.fixes.push(`wrapped ${field} string in an array`);
    return v === '' ? [] : [v];
  }
  if (!Array.isArray(v) || v.every((x) => typeof x === 'string')) return v;
  fx.fixes.push(`converted non-string ${field} entries to strings`);
  return v.map((x) => {
    if (typeof x === 'string') return x;
    if (isPlainObject(x) && typeof x.message === 'string') return x.message;
    return JSON.stringify(x) ?? String(x);
  });
}

function rename(obj: Record<string, unknown>, from: string, to: string, fx: Fixer): void {
  if (!(from in obj)) return;
  if (obj[to] === undefined) {
    obj[to] = obj[from];
    fx.fixes.push(`renamed ${from} to ${to}`);
  } else {
    fx.fixes.push(`ignored ${from} because ${to} is present`);
  }
  delete obj[from];
}

const DEFAULTS: Record<string, () => unknown> = {
  passed: () => false,
  score: () => 0,
  maxScore: () => DEFAULT_MAX_SCORE,
  issues: () => [],
  warnings: () => [],
};

/**
 * Normalises a raw sub-agent result. Never throws; `error` names the gate and the reason.
 * Unknown extra fields are dropped without a fix (they carry no meaning for scoring).
 */
export function normalizeGateResult(
  raw: unknown,
  gateCode: string,
  opts: { strict?: boolean } = {},
): NormalizeResult {
  const invalid = (reason: string): NormalizeResult => ({
    ok: false,
    error: `Gate ${gateCode} returned an invalid result: ${reason}`,
  });
  if (!isPlainObject(raw)) {
    return invalid(`expected an object, got ${raw === null ? 'null' : Array.isArray(raw) ? 'array' : typeof raw}`);
  }
  const fx: Fixer = { fixes: [] };
  // A NUL or a lone surrogate anywhere in the result cannot be stored (jsonb): replaced, and said so.
  const clean = replaceUnstorable(raw);
  if (clean.replaced > 0) fx.fixes.push(`replaced ${clean.replaced} unstorable character(s) (NUL, lone surrogate) with U+FFFD`);
  const obj: Record<string, unknown> = { ...(clean.value as Record<string, unknown>) };
  rename(obj, 'pass', 'passed', fx);
  rename(obj, 'max_score', 'maxScore', fx);
  for (const [field, make] of Object.entries(DEFAULTS)) {
    if (obj[field] === undefined || obj[field] === null) {
      obj[field] = make();
      fx.fixes.push(`defaulted ${field} to ${JSON.stringify(obj[field])}`);
    }
  }
  obj.passed = toPassed(obj.passed, fx);
  obj.score = toNumber('score', obj.score, fx);
  obj.maxScore = toNumber('maxScore', obj.maxScore, fx);
  obj.issues = toMessages('issues', obj.issues, fx);
  obj.warnings = toMessages('warnings', obj.warnings, fx);
  if (fx.fail) return invalid(fx.fail);

  const parsed = GateResultSchema.safeParse({
    passed: obj.passed,
    score: obj.score,
    maxScore: obj.maxScore,
    issues: obj.issues,
    warnings: obj.warnings,
    ...(obj.details === undefined ? {} : { details: obj.details }),
  });
  if (!parsed.success) {
    return invalid(parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; '));
  }
  if (opts.strict && fx.fixes.length > 0) {
    return invalid(`strict mode refuses a result that needed fixes (${fx.fixes.join('; ')})`);
  }
  return { ok: true, result: parsed.data, fixes: fx.fixes };
}
