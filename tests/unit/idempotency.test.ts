import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalJson, deriveRequestId, hourBucket, requestFingerprint, sha256Hex, subAgentIdempotencyKey,
} from '../../shared/idempotency.ts';

const HOUR = 3_600_000;
const t = Date.UTC(2026, 0, 30, 10, 0, 0);

describe('subAgentIdempotencyKey', () => {
  it('matches the seed format and algorithm', async () => {
    const key = await subAgentIdempotencyKey({ sdId: 'SD-1', code: 'DATABASE', sessionId: 's1', phase: 'EXEC', now: t });
    expect(key).toMatch(/^idmp_[A-Z0-9_]+_[0-9a-f]{32}$/);
    const expected = createHash('sha256').update(['SD-1', 'DATABASE', 's1', 'EXEC', String(Math.floor(t / HOUR))].join('::')).digest('hex').slice(0, 32);
    expect(key).toBe(`idmp_DATABASE_${expected}`);
  });
  it('is stable within the hour and changes across hours, sessions and phases', async () => {
    const k = (o: Partial<{ sessionId: string | null; phase: string | null; now: number | Date }>) =>
      subAgentIdempotencyKey({ sdId: 'SD-1', code: 'QA_GATE', sessionId: 's1', phase: 'EXEC', now: t, ...o });
    const first = await k({});
    expect(await k({ now: new Date(t + HOUR - 1) })).toBe(first);
    expect(await k({ now: t + HOUR })).not.toBe(first);
    expect(await k({ sessionId: 's2' })).not.toBe(first);
    expect(await k({ phase: 'PLAN' })).not.toBe(first);
    expect(await k({ sessionId: null })).toBe(await k({ sessionId: 'no-session' }));
    expect(await k({ phase: '' })).toBe(await k({ phase: 'orchestrated' }));
  });
  it('defaults now to the current time', async () => {
    const key = await subAgentIdempotencyKey({ sdId: 'SD-1', code: 'A' });
    expect(key).toBe(await subAgentIdempotencyKey({ sdId: 'SD-1', code: 'A', now: Date.now() }));
    expect(hourBucket()).toBe(Math.floor(Date.now() / HOUR));
  });
});

describe('requestFingerprint', () => {
  it('ignores key order at every depth but not array order or values', async () => {
    const a = await requestFingerprint({ b: 1, a: { y: [1, { q: 1, p: 2 }], x: null } });
    expect(a).toBe(await requestFingerprint({ a: { x: null, y: [1, { p: 2, q: 1 }] }, b: 1 }));
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(a).not.toBe(await requestFingerprint({ b: 1, a: { y: [{ q: 1, p: 2 }, 1], x: null } }));
    expect(a).not.toBe(await requestFingerprint({ b: 2, a: { y: [1, { q: 1, p: 2 }], x: null } }));
    expect(await sha256Hex('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
  it('canonicalJson drops undefined like JSON and survives any JSON value', () => {
    expect(canonicalJson({ b: undefined, a: [undefined, new Date(0)] })).toBe('{"a":[null,"1970-01-01T00:00:00.000Z"]}');
    expect(canonicalJson(undefined)).toBe('null');
    fc.assert(fc.property(fc.jsonValue(), (v) => {
      expect(JSON.parse(canonicalJson(v))).toEqual(JSON.parse(JSON.stringify(v)));
    }));
  });
});

describe('deriveRequestId', () => {
  it('is a deterministic uuid per SD, type, session and hour', async () => {
    const id = await deriveRequestId({ sdId: 'SD-1', handoffType: 'EXEC-TO-PLAN', sessionId: 's1', now: t });
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(await deriveRequestId({ sdId: 'SD-1', handoffType: 'EXEC-TO-PLAN', sessionId: 's1', now: t + 5_000 })).toBe(id);
    expect(await deriveRequestId({ sdId: 'SD-1', handoffType: 'EXEC-TO-PLAN', sessionId: 's1', now: t + HOUR })).not.toBe(id);
    expect(await deriveRequestId({ sdId: 'SD-1', handoffType: 'PLAN-TO-EXEC', sessionId: 's1', now: t })).not.toBe(id);
    expect(await deriveRequestId({ sdId: 'SD-2', handoffType: 'EXEC-TO-PLAN', sessionId: 's1', now: t })).not.toBe(id);
    expect(await deriveRequestId({ sdId: 'SD-1', handoffType: 'EXEC-TO-PLAN', now: t })).not.toBe(id);
  });
});

describe('canonicalJson with a "__proto__" key', () => {
  it('keeps it as data (found by fast-check: it was dropped, so two different bodies shared a fingerprint)', () => {
    expect(canonicalJson(JSON.parse('{"":{"__proto__":0}}'))).toBe('{"":{"__proto__":0}}');
    expect(canonicalJson(JSON.parse('{"__proto__":{"a":1}}'))).not.toBe(canonicalJson({}));
  });
});
