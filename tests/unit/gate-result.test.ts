import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GateResultSchema, normalizeGateResult } from '../../shared/gate-result.ts';

const ok = (raw: unknown, strict = false) => {
  const r = normalizeGateResult(raw, 'G1', { strict });
  if (!r.ok) throw new Error(`expected ok, got ${r.error}`);
  return r;
};
const bad = (raw: unknown, strict = false) => {
  const r = normalizeGateResult(raw, 'G1', { strict });
  if (r.ok) throw new Error('expected rejection');
  return r.error;
};

describe('normalizeGateResult (non-strict)', () => {
  it('accepts a canonical result without fixes', () => {
    const r = ok({ passed: true, score: 80, maxScore: 100, issues: [], warnings: ['w'], details: { a: 1 } });
    expect(r.fixes).toEqual([]);
    expect(r.result).toEqual({ passed: true, score: 80, maxScore: 100, issues: [], warnings: ['w'], details: { a: 1 } });
  });

  it('renames pass and max_score and records each fix', () => {
    const r = ok({ pass: true, score: 5, max_score: 10, issues: [], warnings: [] });
    expect(r.result).toMatchObject({ passed: true, score: 5, maxScore: 10 });
    expect(r.fixes).toEqual(['renamed pass to passed', 'renamed max_score to maxScore']);
  });

  it('keeps passed when pass is also present', () => {
    const r = ok({ passed: false, pass: true, score: 0, maxScore: 100, issues: [], warnings: [] });
    expect(r.result.passed).toBe(false);
    expect(r.fixes).toEqual(['ignored pass because passed is present']);
  });

  it('coerces numeric and string passed, and numeric strings', () => {
    expect(ok({ passed: 1, score: 1, maxScore: 1, issues: [], warnings: [] }).result.passed).toBe(true);
    expect(ok({ passed: 0, score: 0, maxScore: 1, issues: [], warnings: [] }).result.passed).toBe(false);
    expect(ok({ passed: 'TRUE', score: '7.5', maxScore: ' 10 ', issues: [], warnings: [] }).result)
      .toMatchObject({ passed: true, score: 7.5, maxScore: 10 });
  });

  it('fills defaults for missing fields', () => {
    const r = ok({});
    expect(r.result).toEqual({ passed: false, score: 0, maxScore: 100, issues: [], warnings: [] });
    expect(r.fixes).toHaveLength(5);
    expect(r.fixes[0]).toBe('defaulted passed to false');
  });

  it('wraps a single issue string and stringifies odd entries', () => {
    const r = ok({ passed: false, score: 0, maxScore: 100, issues: 'no PRD', warnings: [{ message: 'm' }, 3] });
    expect(r.result.issues).toEqual(['no PRD']);
    expect(r.result.warnings).toEqual(['m', '3']);
    expect(r.fixes).toContain('wrapped issues string in an array');
    expect(ok({ issues: '' }).result.issues).toEqual([]);
  });

  it('always rejects non-objects, negative or excessive scores, non-finite numbers', () => {
    expect(bad(null)).toBe('Gate G1 returned an invalid result: expected an object, got null');
    expect(bad([1])).toMatch(/got array/);
    expect(bad('yes')).toMatch(/got string/);
    expect(bad({ passed: true, score: -1, maxScore: 100 })).toMatch(/score/);
    expect(bad({ passed: true, score: 1, maxScore: 0 })).toMatch(/maxScore/);
    expect(bad({ passed: true, score: 101, maxScore: 100 })).toMatch(/score must not exceed maxScore/);
    expect(bad({ passed: true, score: Number.NaN, maxScore: 100 })).toMatch(/finite/);
    expect(bad({ passed: true, score: 1, maxScore: Infinity })).toMatch(/finite/);
    expect(bad({ passed: Number.NaN })).toMatch(/passed/);
    expect(bad({ passed: 'maybe' })).toMatch(/passed/);
    expect(bad({ score: 'abc' })).toMatch(/score/);
  });
});

describe('normalizeGateResult (strict)', () => {
  it('accepts a canonical result', () => {
    expect(ok({ passed: true, score: 1, maxScore: 1, issues: [], warnings: [] }, true).fixes).toEqual([]);
  });
  it('rejects anything that needed a fix, naming the fixes', () => {
    expect(bad({ pass: true, score: 1, maxScore: 1, issues: [], warnings: [] }, true)).toMatch(/strict mode.*renamed pass to passed/);
    expect(bad({ passed: 1, score: 1, maxScore: 1, issues: [], warnings: [] }, true)).toMatch(/coerced passed/);
    expect(bad({ passed: true, score: 1, maxScore: 1 }, true)).toMatch(/defaulted issues/);
  });
});

describe('normalizeGateResult properties', () => {
  const anyResultish = fc.record(
    {
      passed: fc.oneof(fc.boolean(), fc.integer(), fc.constantFrom('true', 'false', 'x')),
      pass: fc.boolean(),
      score: fc.oneof(fc.double(), fc.integer({ min: -5, max: 200 }).map(String)),
      maxScore: fc.oneof(fc.double(), fc.integer({ min: -5, max: 200 })),
      max_score: fc.integer({ min: 1, max: 200 }),
      issues: fc.oneof(fc.string(), fc.array(fc.anything())),
      warnings: fc.array(fc.string()),
    },
    { requiredKeys: [] },
  );

  it('never throws, and an accepted result satisfies the canonical schema', () => {
    fc.assert(fc.property(anyResultish, (raw) => {
      const r = normalizeGateResult(raw, 'P', {});
      if (r.ok) expect(GateResultSchema.safeParse(r.result).success).toBe(true);
      else expect(r.error).toMatch(/^Gate P returned an invalid result: /);
    }), { numRuns: 500 });
  });

  it('strict accepts exactly the non-strict results that needed no fix', () => {
    fc.assert(fc.property(anyResultish, (raw) => {
      const loose = normalizeGateResult(raw, 'P');
      const strict = normalizeGateResult(raw, 'P', { strict: true });
      expect(strict.ok).toBe(loose.ok && loose.fixes.length === 0);
    }), { numRuns: 500 });
  });

  it('normalising a normalised result is a no-op', () => {
    fc.assert(fc.property(anyResultish, (raw) => {
      const first = normalizeGateResult(raw, 'P');
      if (!first.ok) return;
      const second = normalizeGateResult(first.result, 'P', { strict: true });
      expect(second).toEqual({ ok: true, result: first.result, fixes: [] });
    }), { numRuns: 300 });
  });
});
