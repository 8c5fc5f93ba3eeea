import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import {
  type GateOutcome, GateGraphError, type GateSpec, type RunEvent, runGates, topologicalOrder,
} from '../../shared/dag-runner.ts';
import { HttpStatusError, MemoryBreakerStore, sleep } from '../../shared/resilience.ts';

const gate = (code: string, extra: Partial<GateSpec> = {}): GateSpec => ({
  code, kind: 'builtin', target: null, depends_on: [], timeout_ms: 5000, max_retries: 0, weight: 1, required: true,
  skip: false, skip_reason: null, ...extra,
});
const pass = { passed: true, score: 100, maxScore: 100, issues: [], warnings: [] };
const fail = { passed: false, score: 10, maxScore: 100, issues: ['nope'], warnings: [] };
const retry = { baseMs: 1, capMs: 5 };
const byCode = (outcomes: GateOutcome[]) => Object.fromEntries(outcomes.map((o) => [o.code, o]));

/** Records when each gate started and finished (real clock) for order assertions. */
function timeline(durations: Record<string, number>, results: Record<string, unknown> = {}) {
  const t0 = performance.now();
  const log: Record<string, { start: number; end: number }> = {};
  const execute = async (g: GateSpec) => {
    const start = performance.now() - t0;
    await sleep(durations[g.code] ?? 0);
    log[g.code] = { start, end: performance.now() - t0 };
    return results[g.code] ?? pass;
  };
  return { log, execute };
}

describe('topologicalOrder', () => {
  it('orders dependencies first and rejects cycles, unknown deps and duplicates', () => {
    expect(topologicalOrder([gate('B', { depends_on: ['A'] }), gate('A')])).toEqual(['A', 'B']);
    expect(() => topologicalOrder([gate('A', { depends_on: ['B'] }), gate('B', { depends_on: ['A'] })]))
      .toThrow(new GateGraphError('Gate dependency cycle among A, B'));
    expect(() => topologicalOrder([gate('A', { depends_on: ['Z'] })])).toThrow('Gate A depends on unknown gate Z');
    expect(() => topologicalOrder([gate('A'), gate('A')])).toThrow('Duplicate gate code A');
  });
  it('runGates refuses a cyclic graph before executing anything', async () => {
    const execute = vi.fn();
    await expect(runGates([gate('A', { depends_on: ['A'] })], { execute, context: {} })).rejects.toBeInstanceOf(GateGraphError);
    expect(execute).not.toHaveBeenCalled();
  });
});

describe('runGates scheduling', () => {
  // Behaviour, not speed: overlap and ordering of the recorded intervals (timings live in bench/).
  it('five independent 300 ms gates run together: every one starts before any finishes', async () => {
    const gates = ['A', 'B', 'C', 'D', 'E'].map((c) => gate(c));
    const { log, execute } = timeline(Object.fromEntries(gates.map((g) => [g.code, 300])));
    const r = await runGates(gates, { execute, context: {}, retry });
    const spans = Object.values(log);
    expect(spans).toHaveLength(5);
    expect(Math.max(...spans.map((x) => x.start))).toBeLessThan(Math.min(...spans.map((x) => x.end)));
    // With no dependencies the critical path is the longest single gate.
    expect(r.criticalPathMs).toBe(Math.max(...r.outcomes.map((o) => o.durationMs)));
    expect(r.outcomes.map((o) => o.code)).toEqual(['A', 'B', 'C', 'D', 'E']);
    expect(r.outcomes.every((o) => o.passed && o.attempts === 1 && o.durationMs >= 299)).toBe(true);
  });

  it('starts a dependent as soon as its own dependency finishes, not after a slow unrelated gate', async () => {
    // FAST(50) -> CHILD(50); SLOW(400) is unrelated. Waves would start CHILD only after SLOW.
    const gates = [gate('SLOW'), gate('CHILD', { depends_on: ['FAST'] }), gate('FAST')];
    const { log, execute } = timeline({ SLOW: 400, FAST: 50, CHILD: 50 });
    const r = await runGates(gates, { execute, context: {}, retry });
    expect(log.CHILD!.start).toBeGreaterThanOrEqual(log.FAST!.end);
    expect(log.CHILD!.end).toBeLessThan(log.SLOW!.end);
    const d = Object.fromEntries(r.outcomes.map((o) => [o.code, o.durationMs]));
    expect(r.criticalPathMs).toBeCloseTo(Math.max(d.SLOW!, d.FAST! + d.CHILD!), 6);
  });

  it('a 3-deep chain runs in order and its critical path is the sum', async () => {
    const gates = [gate('C', { depends_on: ['B'] }), gate('B', { depends_on: ['A'] }), gate('A')];
    const { log, execute } = timeline({ A: 60, B: 60, C: 60 });
    const r = await runGates(gates, { execute, context: {}, retry });
    expect(log.B!.start).toBeGreaterThanOrEqual(log.A!.end);
    expect(log.C!.start).toBeGreaterThanOrEqual(log.B!.end);
    expect(r.criticalPathMs).toBeCloseTo(r.outcomes.reduce((sum, o) => sum + o.durationMs, 0), 6);
  });

  it('never runs more than the concurrency limit at once', async () => {
    let running = 0;
    let peak = 0;
    const execute = async () => {
      running++;
      peak = Math.max(peak, running);
      await sleep(20);
      running--;
      return pass;
    };
    const gates = Array.from({ length: 12 }, (_, i) => gate(`G${i}`, i >= 6 ? { depends_on: [`G${i - 6}`] } : {}));
    const r = await runGates(gates, { execute, context: {}, concurrency: 3, retry });
    expect(peak).toBe(3);
    expect(r.outcomes.every((o) => o.passed)).toBe(true);
    let peak5 = 0;
    running = 0;
    await runGates(gates, { execute: async () => { running++; peak5 = Math.max(peak5, running); await sleep(20); running--; return pass; }, context: {}, retry });
    expect(peak5).toBe(5); // default limit
    await expect(runGates(gates, { execute, context: {}, concurrency: 0 })).rejects.toThrow(RangeError);
  });
});

describe('runGates failures', () => {
  it('a failed required gate skips its transitive dependents; independent gates still run', async () => {
    const gates = [
      gate('ROOT'), gate('MID', { depends_on: ['ROOT'], required: false }), gate('LEAF', { depends_on: ['MID'] }),
      gate('SIDE'),
    ];
    const execute = vi.fn(async (g: GateSpec) => (g.code === 'ROOT' ? fail : pass));
    const events: RunEvent[] = [];
    const o = byCode((await runGates(gates, { execute, context: {}, retry, onEvent: (e) => events.push(e) })).outcomes);
    expect(o.ROOT).toMatchObject({ passed: false, score: 10, skipped: false, issues: ['nope'] });
    expect(o.MID).toMatchObject({ skipped: true, skipReason: 'DEPENDENCY_FAILED', passed: false, attempts: 0 });
    expect(o.LEAF).toMatchObject({ skipped: true, skipReason: 'DEPENDENCY_FAILED' });
    expect(o.MID!.issues).toEqual(['Skipped: dependency ROOT failed']);
    expect(o.SIDE).toMatchObject({ passed: true });
    expect(execute.mock.calls.map((c) => c[0].code).sort()).toEqual(['ROOT', 'SIDE']);
    expect(events.filter((e) => e.type === 'gate_skipped').map((e) => e.code)).toEqual(['MID', 'LEAF']);
  });

  it('a failed optional gate does not block dependents; a non-applicable skip counts as satisfied', async () => {
    const gates = [
      gate('OPT', { required: false }), gate('AFTER_OPT', { depends_on: ['OPT'] }),
      gate('NA', { skip: true, skip_reason: 'NON_APPLICABLE_SD_TYPE' }), gate('AFTER_NA', { depends_on: ['NA'] }),
      gate('NA2', { skip: true }),
    ];
    const execute = vi.fn(async (g: GateSpec) => (g.code === 'OPT' ? fail : pass));
    const o = byCode((await runGates(gates, { execute, context: {}, retry })).outcomes);
    expect(o.AFTER_OPT!.passed).toBe(true);
    expect(o.NA).toMatchObject({ skipped: true, skipReason: 'NON_APPLICABLE_SD_TYPE', attempts: 0 });
    expect(o.NA2!.skipReason).toBe('NON_APPLICABLE');
    expect(o.AFTER_NA!.passed).toBe(true);
    expect(execute).toHaveBeenCalledTimes(3);
  });

  it('errors are isolated: a throwing, a timing-out and an invalid gate fail alone with the error in issues', async () => {
    const gates = [
      gate('THROWS'), gate('HANGS', { timeout_ms: 40, max_retries: 1 }), gate('INVALID', { max_retries: 3 }),
      gate('FINE'), gate('FOUR', { max_retries: 2 }),
    ];
    const execute = vi.fn(async (g: GateSpec, ctx: { signal: AbortSignal }) => {
      if (g.code === 'THROWS') throw new Error('agent crashed');
      if (g.code === 'HANGS') return new Promise(() => {});
      if (g.code === 'INVALID') return { passed: true, score: 5, maxScore: 1 };
      if (g.code === 'FOUR') throw new HttpStatusError(404, 'no such agent');
      void ctx;
      return pass;
    });
    const o = byCode((await runGates(gates, { execute, context: {}, retry })).outcomes);
    expect(o.THROWS).toMatchObject({ passed: false, score: 0, maxScore: 100, issues: ['agent crashed'], error: { kind: 'other' }, attempts: 1 });
    expect(o.HANGS).toMatchObject({ passed: false, attempts: 2, error: { kind: 'timeout', message: 'Sub-agent HANGS timed out after 40ms' } });
    expect(o.HANGS!.issues).toEqual(['Sub-agent HANGS timed out after 40ms']);
    expect(o.INVALID).toMatchObject({ passed: false, attempts: 1, error: { kind: 'invalid_result' } });
    expect(o.FOUR).toMatchObject({ attempts: 1, error: { kind: 'http4xx', message: 'no such agent' } });
    expect(o.FINE!.passed).toBe(true);
  });

  it('retries a 5xx and reports attempts and the retry event; timeoutOverrideMs caps the gate timeout', async () => {
    let n = 0;
    const events: RunEvent[] = [];
    const r = await runGates([gate('FLAKY', { max_retries: 3 })], {
      execute: async () => (++n < 3 ? Promise.reject(new HttpStatusError(503)) : pass), context: {}, retry,
      onEvent: (e) => events.push(e),
    });
    expect(r.outcomes[0]).toMatchObject({ passed: true, attempts: 3 });
    expect(events.filter((e) => e.type === 'gate_retrying')).toHaveLength(2);
    const seen: number[] = [];
    const r2 = await runGates([gate('LONG', { timeout_ms: 60_000 })], {
      execute: async (_g, ctx) => { seen.push(ctx.timeoutMs); return new Promise(() => {}); },
      context: {}, retry, timeoutOverrideMs: 30,
    });
    expect(seen).toEqual([30]);
    expect(r2.outcomes[0]!.error?.message).toBe('Sub-agent LONG timed out after 30ms');
  });

  it('strict mode refuses a result that needed fixes; non-strict records the fixes', async () => {
    const execute = async () => ({ pass: 1, score: '90', max_score: 100 });
    const loose = (await runGates([gate('G')], { execute, context: {}, retry })).outcomes[0]!;
    expect(loose).toMatchObject({ passed: true, score: 90 });
    expect(loose.fixes).toContain('renamed pass to passed');
    const strict = (await runGates([gate('G')], { execute, context: {}, retry, strict: true })).outcomes[0]!;
    expect(strict).toMatchObject({ passed: false, error: { kind: 'invalid_result' } });
  });
});

describe('runGates context isolation', () => {
  it('a gate that mutates its context cannot change what another gate or the caller sees', async () => {
    const context = { sd: { id: 'SD-1', title: 'original' }, stories: [{ status: 'done' }] };
    const seen: string[] = [];
    const execute = async (g: GateSpec, ctx: { context: typeof context }) => {
      if (g.code === 'MUTATOR') {
        ctx.context.sd.title = 'mutated';
        ctx.context.stories.push({ status: 'injected' });
      } else {
        await sleep(10);
        seen.push(`${ctx.context.sd.title}/${ctx.context.stories.length}`);
      }
      return pass;
    };
    await runGates([gate('MUTATOR'), gate('READER'), gate('AFTER', { depends_on: ['MUTATOR'] })], { execute, context, retry });
    expect(seen).toEqual(['original/1', 'original/1']);
    expect(context.sd.title).toBe('original');
  });
  it('refuses a context that cannot be deep-copied', async () => {
    await expect(runGates([gate('A')], { execute: async () => pass, context: { fn: () => 1 } })).rejects.toThrow(/cannot be deep-copied/);
  });
});

describe('runGates circuit breaker', () => {
  it('an open breaker fails the gate at once with CIRCUIT_OPEN and without calling execute', async () => {
    const breaker = new MemoryBreakerStore({ failureThreshold: 1 });
    await breaker.record('DOWN', false, 'earlier');
    const execute = vi.fn(async (_g: GateSpec) => pass);
    const events: RunEvent[] = [];
    const r = await runGates([gate('DOWN'), gate('DEP', { depends_on: ['DOWN'] }), gate('UP')], {
      execute, context: {}, retry, breaker, onEvent: (e) => events.push(e),
    });
    const o = byCode(r.outcomes);
    expect(o.DOWN).toMatchObject({ passed: false, skipped: true, skipReason: 'CIRCUIT_OPEN', attempts: 0, error: { kind: 'circuit_open' } });
    expect(o.DEP!.skipReason).toBe('DEPENDENCY_FAILED');
    expect(execute.mock.calls.map((c) => c[0].code)).toEqual(['UP']);
    expect(events.find((e) => e.type === 'gate_finished' && e.code === 'DOWN')).toBeDefined();
  });
  it('records each attempt: failures open the breaker for the next run, valid results count as success', async () => {
    const breaker = new MemoryBreakerStore({ failureThreshold: 3 });
    const spy = vi.spyOn(breaker, 'record');
    const flapping = async () => { throw new HttpStatusError(500); };
    await runGates([gate('F', { max_retries: 2 })], { execute: flapping, context: {}, retry, breaker });
    expect(spy.mock.calls.map((c) => c[1])).toEqual([false, false, false]);
    expect(breaker.state('F')).toBe('open');
    await runGates([gate('OK')], { execute: async () => fail, context: {}, retry, breaker });
    expect(spy.mock.calls.at(-1)).toEqual(['OK', true, undefined]);
  });
  it('does not count a timeout the caller caused (timeoutOverrideMs below the gate\'s own) against the breaker', async () => {
    const breaker = new MemoryBreakerStore({ failureThreshold: 1 });
    const spy = vi.spyOn(breaker, 'record');
    const slow = (_g: GateSpec, ctx: { signal: AbortSignal }) => new Promise((resolve, reject) => {
      const t = setTimeout(() => resolve(pass), 200);
      ctx.signal.addEventListener('abort', () => { clearTimeout(t); reject(ctx.signal.reason); }, { once: true });
    });
    const short = await runGates([gate('SLOW', { timeout_ms: 5000, max_retries: 1 })], { execute: slow, context: {}, retry, breaker, timeoutOverrideMs: 20 });
    expect(short.outcomes[0]?.error?.kind).toBe('timeout');
    expect(spy).not.toHaveBeenCalled();
    expect(breaker.state('SLOW')).toBe('closed');
    // the agent's own timeout running out is the agent's failure
    const own = await runGates([gate('SLOW', { timeout_ms: 20, max_retries: 0 })], { execute: slow, context: {}, retry, breaker });
    expect(own.outcomes[0]?.error?.kind).toBe('timeout');
    expect(breaker.state('SLOW')).toBe('open');
  });

  it('a breaker store that cannot record does not lose the gate result', async () => {
    const breaker = { acquire: async () => ({ allowed: true, state: 'closed' as const }), record: async () => { throw new Error('db down'); } };
    const r = await runGates([gate('A')], { execute: async () => pass, context: {}, retry, breaker });
    expect(r.outcomes[0]!.passed).toBe(true);
  });
});

describe('runGates durability hooks', () => {
  it('records every outcome as it finishes, and reuses an existing one without running it', async () => {
    const recorded: string[] = [];
    const existing: GateOutcome = {
      code: 'DONE', passed: true, score: 70, maxScore: 100, issues: [], warnings: [], fixes: [], durationMs: 5,
      attempts: 1, skipped: false, skipReason: null, reused: false, startedAt: 'x', finishedAt: 'y',
    };
    const execute = vi.fn(async (_g: GateSpec) => pass);
    const r = await runGates([gate('DONE'), gate('NEW'), gate('NA', { skip: true })], {
      execute, context: {}, retry,
      lookupExisting: async (g) => (g.code === 'DONE' ? existing : null),
      recordResult: async (g, o) => { recorded.push(`${g.code}:${o.skipped ? 'skip' : o.passed}`); },
    });
    expect(byCode(r.outcomes).DONE).toMatchObject({ reused: true, score: 70 });
    expect(execute.mock.calls.map((c) => c[0].code)).toEqual(['NEW']);
    expect(recorded.sort()).toEqual(['NA:skip', 'NEW:true']);
  });

  it('a recordResult failure aborts the run and rejects with that error', async () => {
    let hungAborted = false;
    const execute = async (g: GateSpec, ctx: { signal: AbortSignal }) => {
      if (g.code === 'QUICK') return pass;
      ctx.signal.addEventListener('abort', () => { hungAborted = true; });
      return new Promise(() => {});
    };
    const recordResult = async () => { throw new Error('DB_UNAVAILABLE: gone'); };
    const later = vi.fn(async () => pass);
    await expect(runGates([gate('QUICK'), gate('HUNG'), gate('LATER', { depends_on: ['QUICK'] })], {
      execute: (g, ctx) => (g.code === 'LATER' ? later() : execute(g, ctx)), context: {}, retry, recordResult,
    })).rejects.toThrow('DB_UNAVAILABLE: gone');
    expect(hungAborted).toBe(true);
  });

  it('a lookupExisting failure rejects the run; an outer abort rejects with its reason', async () => {
    await expect(runGates([gate('A'), gate('B', { depends_on: ['A'] })], {
      execute: async () => pass, context: {}, lookupExisting: async () => { throw new Error('lookup failed'); },
    })).rejects.toThrow('lookup failed');
    const c = new AbortController();
    const p = runGates([gate('A')], { execute: () => new Promise(() => {}), context: {}, signal: c.signal });
    setTimeout(() => c.abort(new Error('client went away')), 10);
    await expect(p).rejects.toThrow('client went away');
  });

  it('a throwing event consumer does not change the result; an empty gate list is fine', async () => {
    const r = await runGates([gate('A')], { execute: async () => pass, context: {}, onEvent: () => { throw new Error('x'); } });
    expect(r.outcomes[0]!.passed).toBe(true);
    expect(await runGates([], { execute: async () => pass, context: {} })).toMatchObject({ outcomes: [], criticalPathMs: 0 });
  });

  it('uses the injected clock for timestamps and durations', async () => {
    let t = 1_700_000_000_000;
    const r = await runGates([gate('A')], { execute: async () => { t += 250; return pass; }, context: {}, now: () => t });
    expect(r.outcomes[0]).toMatchObject({ durationMs: 250, startedAt: new Date(1_700_000_000_000).toISOString() });
    expect(r).toMatchObject({ wallMs: 250, criticalPathMs: 250 });
  });
});

describe('runGates properties (random DAGs)', () => {
  it('respects dependencies, skips exactly the cut-off gates, and never exceeds the limit', async () => {
    const dagArb = fc.integer({ min: 1, max: 9 }).chain((n) => fc.tuple(
      fc.array(fc.array(fc.nat(), { maxLength: 3 }), { minLength: n, maxLength: n }),
      fc.array(fc.boolean(), { minLength: n, maxLength: n }), // fails?
      fc.array(fc.boolean(), { minLength: n, maxLength: n }), // required?
      fc.integer({ min: 1, max: 4 }),
    ));
    await fc.assert(fc.asyncProperty(dagArb, async ([depIdx, fails, required, concurrency]) => {
      // Dependencies only point backwards, so the graph is acyclic by construction.
      const gates = depIdx.map((deps, i) => gate(`G${i}`, {
        depends_on: i === 0 ? [] : [...new Set(deps.map((d) => `G${d % i}`))], required: required[i],
      }));
      const finished = new Set<string>();
      let running = 0;
      let peak = 0;
      const r = await runGates(gates, {
        concurrency, context: {}, retry,
        execute: async (g) => {
          for (const d of g.depends_on ?? []) expect(finished.has(d)).toBe(true);
          running++;
          peak = Math.max(peak, running);
          await sleep(1);
          running--;
          finished.add(g.code);
          return fails[Number(g.code.slice(1))] ? fail : pass;
        },
      });
      expect(peak).toBeLessThanOrEqual(concurrency);
      const o = byCode(r.outcomes);
      const cut = (code: string): boolean => {
        const g = gates.find((x) => x.code === code)!;
        return (g.depends_on ?? []).some((d) => cut(d) || (fails[Number(d.slice(1))] && gates.find((x) => x.code === d)!.required));
      };
      for (const g of gates) {
        expect(o[g.code]!.skipReason === 'DEPENDENCY_FAILED').toBe(cut(g.code));
        expect(finished.has(g.code)).toBe(!cut(g.code));
      }
    }), { numRuns: 60 });
  });
});
