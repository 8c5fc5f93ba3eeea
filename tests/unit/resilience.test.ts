import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import {
  CircuitOpenError, classifyFailure, HttpStatusError, InvalidGateResultError, isRetryable, MemoryBreakerStore,
  retryDelay, runWithRetry, sleep, SubAgentTimeoutError, withTimeout,
} from '../../shared/resilience.ts';

describe('retryDelay (full jitter)', () => {
  it('stays in [0, min(cap, base*2^n)) for any random in [0,1)', () => {
    fc.assert(fc.property(
      fc.integer({ min: 0, max: 40 }), fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 60_000 }),
      fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
      (n, baseMs, capMs, r) => {
        const d = retryDelay(n, { baseMs, capMs }, () => r);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(Math.min(capMs, baseMs * 2 ** n));
      },
    ));
  });
  it('uses the injected random across the whole window and is capped', () => {
    expect(retryDelay(0, { baseMs: 100, capMs: 1000 }, () => 0)).toBe(0);
    expect(retryDelay(3, { baseMs: 100, capMs: 10_000 }, () => 0.5)).toBe(400);
    expect(retryDelay(3, { baseMs: 100, capMs: 10_000 }, () => 0.999)).toBe(799);
    expect(retryDelay(20, { baseMs: 100, capMs: 1000 }, () => 0.999)).toBe(999);
  });
});

describe('classifyFailure / isRetryable', () => {
  it('classifies by error type, status and errno', () => {
    expect(classifyFailure(new SubAgentTimeoutError('A', 5))).toBe('timeout');
    expect(classifyFailure(new DOMException('t', 'TimeoutError'))).toBe('timeout');
    expect(classifyFailure(new HttpStatusError(503))).toBe('http5xx');
    expect(classifyFailure({ statusCode: 404 })).toBe('http4xx');
    expect(classifyFailure(new InvalidGateResultError('x'))).toBe('invalid_result');
    expect(classifyFailure(new CircuitOpenError('A'))).toBe('circuit_open');
    expect(classifyFailure(new TypeError('fetch failed'))).toBe('network');
    expect(classifyFailure(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe('network');
    expect(classifyFailure(new TypeError('x', { cause: { code: 'ECONNRESET' } }))).toBe('network');
    expect(classifyFailure(Object.assign(new Error('x'), { code: 'ETIMEDOUT' }))).toBe('timeout');
    expect(classifyFailure(new TypeError('undefined is not a function'))).toBe('other');
    expect(classifyFailure(new Error('boom'))).toBe('other');
    expect(classifyFailure('str')).toBe('other');
    expect(classifyFailure(null)).toBe('other');
  });
  it('retries only timeout, network and 5xx', () => {
    expect(['timeout', 'network', 'http5xx', 'http4xx', 'invalid_result', 'circuit_open', 'other'].filter((k) =>
      isRetryable(k as never))).toEqual(['timeout', 'network', 'http5xx']);
  });
});

describe('withTimeout', () => {
  it('rejects with the exact message and aborts the signal', async () => {
    let seen: AbortSignal | undefined;
    const p = withTimeout((signal) => {
      seen = signal;
      return new Promise(() => {}); // a hung agent that ignores its signal
    }, 30, 'SLOW_AGENT');
    await expect(p).rejects.toThrow(new SubAgentTimeoutError('SLOW_AGENT', 30));
    await expect(p).rejects.toThrow(/^Sub-agent SLOW_AGENT timed out after 30ms$/);
    expect(seen?.aborted).toBe(true);
    expect(seen?.reason).toBeInstanceOf(SubAgentTimeoutError);
  });
  it('cancels a fetch-like operation that honours the signal', async () => {
    let cancelled = false;
    const op = (signal: AbortSignal) => new Promise<never>((_, reject) => {
      signal.addEventListener('abort', () => { cancelled = true; reject(signal.reason); });
    });
    await expect(withTimeout(op, 10, 'X')).rejects.toBeInstanceOf(SubAgentTimeoutError);
    expect(cancelled).toBe(true);
  });
  it('resolves, passes errors through, and does not abort after success', async () => {
    let seen: AbortSignal | undefined;
    await expect(withTimeout(async (s) => { seen = s; return 7; }, 50, 'X')).resolves.toBe(7);
    await sleep(60);
    expect(seen?.aborted).toBe(false);
    await expect(withTimeout(async () => { throw new Error('e'); }, 50, 'X')).rejects.toThrow('e');
    await expect(withTimeout(() => { throw new Error('sync'); }, 50, 'X')).rejects.toThrow('sync');
  });
  it('follows a parent signal', async () => {
    const parent = new AbortController();
    const p = withTimeout(() => new Promise(() => {}), 1000, 'X', parent.signal);
    parent.abort(new Error('stop'));
    await expect(p).rejects.toThrow('stop');
    await expect(withTimeout(async () => 1, 1000, 'X', parent.signal)).rejects.toThrow('stop');
  });
});

describe('sleep', () => {
  it('rejects when aborted', async () => {
    const c = new AbortController();
    const p = sleep(1000, c.signal);
    c.abort(new Error('gone'));
    await expect(p).rejects.toThrow('gone');
    await expect(sleep(10, c.signal)).rejects.toThrow('gone');
  });
});

describe('runWithRetry', () => {
  const base = { label: 'G', timeoutMs: 1000, backoff: { baseMs: 10, capMs: 100 }, random: () => 0.5 };
  const noSleep = vi.fn(async () => {});

  it('retries retryable failures with backoff, then succeeds, reporting attempts', async () => {
    let n = 0;
    const onRetry = vi.fn();
    const r = await runWithRetry(async () => {
      n++;
      if (n === 1) throw new HttpStatusError(502);
      if (n === 2) throw new TypeError('fetch failed');
      return 'ok';
    }, { ...base, maxRetries: 3, sleep: noSleep, onRetry });
    expect(r).toEqual({ ok: true, value: 'ok', attempts: 3 });
    expect(onRetry.mock.calls.map((c) => [c[0].kind, c[0].delayMs])).toEqual([['http5xx', 5], ['network', 10]]);
  });

  it('does not retry a 4xx or an invalid result', async () => {
    for (const err of [new HttpStatusError(400), new InvalidGateResultError('bad')]) {
      let n = 0;
      const r = await runWithRetry(async () => { n++; throw err; }, { ...base, maxRetries: 5, sleep: noSleep });
      expect(n).toBe(1);
      expect(r).toMatchObject({ ok: false, attempts: 1, error: err });
    }
  });

  it('gives up after maxRetries + 1 attempts, timing out each attempt', async () => {
    let n = 0;
    const r = await runWithRetry(() => { n++; return new Promise(() => {}); }, { ...base, timeoutMs: 15, maxRetries: 2, sleep: noSleep });
    expect(n).toBe(3);
    expect(r).toMatchObject({ ok: false, kind: 'timeout', attempts: 3 });
    if (!r.ok) expect((r.error as Error).message).toBe('Sub-agent G timed out after 15ms');
  });

  it('stops without an attempt when beforeAttempt refuses, and feeds afterAttempt', async () => {
    const fn = vi.fn(async () => 1);
    const r = await runWithRetry(fn, { ...base, maxRetries: 2, beforeAttempt: async () => { throw new CircuitOpenError('G'); } });
    expect(fn).not.toHaveBeenCalled();
    expect(r).toMatchObject({ ok: false, kind: 'circuit_open', attempts: 0 });
    const after = vi.fn();
    await runWithRetry(async () => { throw new HttpStatusError(500); }, { ...base, maxRetries: 1, sleep: noSleep, afterAttempt: after });
    expect(after.mock.calls.map((c) => [c[0], (c[1] as Error).message])).toEqual([[1, 'HTTP 500'], [2, 'HTTP 500']]);
  });

  it('stops retrying when the run is aborted during backoff', async () => {
    const c = new AbortController();
    let n = 0;
    const p = runWithRetry(async () => { n++; throw new HttpStatusError(503); }, { ...base, backoff: { baseMs: 1000, capMs: 1000 }, maxRetries: 5, signal: c.signal });
    await sleep(20);
    c.abort(new Error('cancel'));
    expect(await p).toMatchObject({ ok: false, kind: 'http5xx', attempts: 1 });
    expect(n).toBe(1);
  });
});

describe('MemoryBreakerStore', () => {
  it('opens after 5 consecutive failures, refuses, half-opens after 60 s, closes after 2 successes', async () => {
    let t = 0;
    const b = new MemoryBreakerStore({}, () => t);
    for (let i = 0; i < 4; i++) await b.record('A', false, 'boom');
    await b.record('A', true); // a success resets the consecutive count
    for (let i = 0; i < 4; i++) await b.record('A', false);
    expect(await b.acquire('A')).toEqual({ allowed: true, state: 'closed' });
    await b.record('A', false, 'fifth');
    expect(await b.acquire('A')).toEqual({ allowed: false, state: 'open' });
    t = 59_999;
    expect((await b.acquire('A')).allowed).toBe(false);
    t = 60_000;
    expect(await b.acquire('A')).toEqual({ allowed: true, state: 'half_open' });
    expect(await b.acquire('A')).toEqual({ allowed: false, state: 'half_open' }); // one probe at a time
    await b.record('A', true);
    expect(b.state('A')).toBe('half_open');
    expect(await b.acquire('A')).toEqual({ allowed: true, state: 'half_open' }); // lease released
    await b.record('A', true);
    expect(b.state('A')).toBe('closed');
    expect(b.transitions.map((x) => `${x.from}>${x.to}@${x.at}`)).toEqual(['closed>open@0', 'open>half_open@60000', 'half_open>closed@60000']);
    expect(b.state('OTHER')).toBe('closed'); // per sub-agent
  });

  it('a crashed probe does not hold the half-open breaker forever: its lease expires', async () => {
    let t = 0;
    const b = new MemoryBreakerStore({ failureThreshold: 1, resetMs: 100, probeLeaseMs: 50 }, () => t);
    await b.record('A', false);
    t = 100;
    expect((await b.acquire('A')).allowed).toBe(true); // probe that never reports back
    t = 149;
    expect((await b.acquire('A')).allowed).toBe(false);
    t = 150;
    expect(await b.acquire('A')).toEqual({ allowed: true, state: 'half_open' });
  });

  it('a failure while half-open re-opens and restarts the reset timer; reset() closes', async () => {
    let t = 0;
    const b = new MemoryBreakerStore({ failureThreshold: 2, resetMs: 1000 }, () => t);
    await b.record('A', false);
    await b.record('A', false);
    t = 1000;
    await b.acquire('A');
    await b.record('A', false);
    expect(b.state('A')).toBe('open');
    t = 1999;
    expect((await b.acquire('A')).allowed).toBe(false);
    await b.record('A', true); // late result while open: ignored
    expect(b.state('A')).toBe('open');
    await b.reset('A');
    expect(await b.acquire('A')).toEqual({ allowed: true, state: 'closed' });
    expect(b.transitions.at(-1)).toMatchObject({ from: 'open', to: 'closed', reason: 'manual reset' });
  });
});
