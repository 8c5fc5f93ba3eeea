// The mode cache with a fake clock and fake fetchers: TTL, single flight, timeout, stale and
// fail-closed fallback.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { isValidationMode, ModeCache, ModeReadSchema, type ModeFetcher } from '../../shared/mode-cache.ts';

let clock = 0;
const now = () => clock;

function fetcher(answers: (() => Promise<unknown>)[]) {
  const calls: { scope: string; signal: AbortSignal }[] = [];
  const fn: ModeFetcher = (scope, signal) => {
    calls.push({ scope, signal });
    const next = answers.shift();
    if (!next) throw new Error('unexpected fetch');
    return next();
  };
  return { fn, calls };
}
const never = () => new Promise<unknown>(() => {});

beforeEach(() => { clock = 1_000_000; vi.useFakeTimers(); });
afterEach(() => { vi.useRealTimers(); });

describe('ModeCache', () => {
  it('reads the database once per TTL (5 s by default) and per scope', async () => {
    const f = fetcher([async () => 'WARN', async () => 'ENFORCE', async () => 'OFF']);
    const cache = new ModeCache({ fetch: f.fn, now });
    expect(cache.ttlMs).toBe(5000);
    expect(await cache.read('feature')).toEqual({ mode: 'WARN', source: 'database', age_ms: 0 });
    clock += 4999;
    expect(await cache.read('feature')).toEqual({ mode: 'WARN', source: 'cache', age_ms: 4999 });
    expect(await cache.read('security')).toEqual({ mode: 'ENFORCE', source: 'database', age_ms: 0 });
    clock += 1;
    expect(await cache.read('feature')).toEqual({ mode: 'OFF', source: 'database', age_ms: 0 });
    expect(f.calls.map((c) => c.scope)).toEqual(['feature', 'security', 'feature']);
  });

  it('shares one refresh between concurrent readers', async () => {
    let resolve: (v: unknown) => void = () => {};
    const f = fetcher([() => new Promise((r) => { resolve = r; })]);
    const cache = new ModeCache({ fetch: f.fn, now });
    const reads = [cache.read('*'), cache.read('*'), cache.read('*')];
    resolve('WARN');
    expect((await Promise.all(reads)).map((r) => r.mode)).toEqual(['WARN', 'WARN', 'WARN']);
    expect(f.calls).toHaveLength(1);
  });

  it('fails closed to ENFORCE (fallback) when the first read times out, and aborts the fetch', async () => {
    const f = fetcher([never]);
    const errors: string[] = [];
    const cache = new ModeCache({ fetch: f.fn, now, timeoutMs: 100, onError: (_, e) => errors.push(e.message) });
    const read = cache.read('*');
    await vi.advanceTimersByTimeAsync(99);
    expect(f.calls[0]!.signal.aborted).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await read).toEqual({ mode: 'ENFORCE', source: 'fallback', age_ms: null });
    expect(f.calls[0]!.signal.aborted).toBe(true);
    expect(errors).toEqual(['validation mode read took longer than 100 ms']);
  });

  it('answers the last value read (stale) when a refresh is slow or fails, then recovers', async () => {
    const f = fetcher([async () => 'WARN', never, async () => { throw new Error('connection refused'); }, async () => 'OFF']);
    const cache = new ModeCache({ fetch: f.fn, now, ttlMs: 1000, timeoutMs: 250 });
    await cache.read('*');
    clock += 1500;
    const slow = cache.read('*');
    await vi.advanceTimersByTimeAsync(250);
    expect(await slow).toEqual({ mode: 'WARN', source: 'stale', age_ms: 1500 });
    expect(await cache.read('*')).toEqual({ mode: 'WARN', source: 'stale', age_ms: 1500 });
    expect(await cache.read('*')).toEqual({ mode: 'OFF', source: 'database', age_ms: 0 });
  });

  it('treats a value that is not a mode as a failed read', async () => {
    const f = fetcher([async () => 'STRICT', async () => null]);
    const cache = new ModeCache({ fetch: f.fn, now });
    expect(await cache.read('*')).toMatchObject({ mode: 'ENFORCE', source: 'fallback' });
    expect(await cache.read('*')).toMatchObject({ mode: 'ENFORCE', source: 'fallback' });
  });

  it('a late answer after the timeout does not overwrite the cache', async () => {
    let resolve: (v: unknown) => void = () => {};
    const f = fetcher([() => new Promise((r) => { resolve = r; })]);
    const cache = new ModeCache({ fetch: f.fn, now, timeoutMs: 50 });
    const read = cache.read('*');
    await vi.advanceTimersByTimeAsync(50);
    expect(await read).toMatchObject({ source: 'fallback' });
    resolve('OFF');
    await vi.advanceTimersByTimeAsync(0);
    cache.set('x', 'WARN');
    expect(await cache.read('x')).toEqual({ mode: 'WARN', source: 'cache', age_ms: 0 });
    expect(f.calls).toHaveLength(1);
  });

  it('set() and invalidate() let a writer publish what it wrote', async () => {
    const f = fetcher([async () => 'ENFORCE', async () => 'ENFORCE']);
    const cache = new ModeCache({ fetch: f.fn, now });
    cache.set('*', 'WARN');
    expect(await cache.read('*')).toEqual({ mode: 'WARN', source: 'cache', age_ms: 0 });
    cache.invalidate('*');
    expect(await cache.read('*')).toMatchObject({ mode: 'ENFORCE', source: 'database' });
    cache.invalidate();
    expect(await cache.read('*')).toMatchObject({ source: 'database' });
  });

  it('has a schema for the report and a guard for modes', () => {
    expect(ModeReadSchema.parse({ mode: 'WARN', source: 'stale', age_ms: 12 })).toEqual({ mode: 'WARN', source: 'stale', age_ms: 12 });
    expect(() => ModeReadSchema.parse({ mode: 'WARN', source: 'guess', age_ms: 1 })).toThrow();
    expect(isValidationMode('OFF')).toBe(true);
    expect(isValidationMode('off')).toBe(false);
  });
});
