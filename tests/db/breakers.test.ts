// Circuit breakers in Postgres (supabase/schemas/08_breakers.sql): the transitions of
// MemoryBreakerStore, one half-open probe at a time across connections, every change recorded.
import fc from 'fast-check';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBreakerStore, type BreakerState } from '../../shared/resilience.ts';
import { connectAs, freshDatabase, type FreshDatabase } from '../helpers/db.ts';

interface Acquire { allowed: boolean; state: BreakerState; probe?: boolean; retry_at?: string }
interface EventRow { from_state: string; to_state: string; reason: string; actor: string; actor_uid: string | null }

let db: FreshDatabase;
let seq = 0;

beforeAll(async () => { db = await freshDatabase(); });
afterAll(async () => { await db.drop(); });

/** Registers a fresh http sub-agent so every test has its own breaker. */
async function agent(): Promise<string> {
  const code = `BRK_${seq++}`;
  await db.sql`insert into public.leo_sub_agents (code, kind, target) values (${code}, 'http', 'http://127.0.0.1:9/gate')`;
  return code;
}

async function acquire(code: string, leaseMs = 60_000, sql: postgres.Sql = db.sql): Promise<Acquire> {
  const [row] = await sql<{ r: Acquire }[]>`select public.fn_breaker_acquire(${code}, ${leaseMs}) as r`;
  return row!.r;
}

async function record(code: string, success: boolean, error: string | null = null): Promise<BreakerState> {
  const [row] = await db.sql<{ r: { state: BreakerState } }[]>`select public.fn_breaker_record(${code}, ${success}, ${error}) as r`;
  return row!.r.state;
}

async function events(code: string): Promise<EventRow[]> {
  return db.sql<EventRow[]>`
    select from_state, to_state, reason, actor, actor_uid::text as actor_uid
    from public.sub_agent_breaker_events where sub_agent_code = ${code} order by id`;
}

/** Pretends the reset time has passed without sleeping for it. */
async function elapse(code: string): Promise<void> {
  await db.sql`update public.sub_agent_breakers set opened_at = opened_at - make_interval(secs => reset_ms / 1000.0)
               where sub_agent_code = ${code} and state = 'open'`;
}

async function openBreaker(code: string): Promise<void> {
  for (let i = 0; i < 5; i++) await record(code, false, `boom ${i}`);
}

describe('closed', () => {
  it('opens after 5 consecutive failures and records why', async () => {
    const code = await agent();
    expect(await acquire(code)).toEqual({ allowed: true, state: 'closed' });
    for (let i = 0; i < 4; i++) expect(await record(code, false, 'HTTP 503')).toBe('closed');
    expect(await events(code)).toEqual([]);
    expect(await record(code, false, 'HTTP 503')).toBe('open');
    const [row] = await db.sql`select state, consecutive_failures, last_error, opened_at from public.sub_agent_breakers where sub_agent_code = ${code}`;
    expect(row).toMatchObject({ state: 'open', consecutive_failures: 5, last_error: 'HTTP 503' });
    expect(row!.opened_at).toBeInstanceOf(Date);
    expect(await events(code)).toMatchObject([{ from_state: 'closed', to_state: 'open', reason: '5 consecutive failures' }]);
  });

  it('a success resets the failure count', async () => {
    const code = await agent();
    for (let i = 0; i < 4; i++) await record(code, false);
    expect(await record(code, true)).toBe('closed');
    for (let i = 0; i < 4; i++) expect(await record(code, false)).toBe('closed');
    expect(await record(code, false)).toBe('open');
  });

  it('honours a per-breaker failure threshold', async () => {
    const code = await agent();
    await db.sql`insert into public.sub_agent_breakers (sub_agent_code, failure_threshold) values (${code}, 2)`;
    expect(await record(code, false)).toBe('closed');
    expect(await record(code, false)).toBe('open');
  });
});

describe('open', () => {
  it('refuses until the reset time, and ignores late results', async () => {
    const code = await agent();
    await openBreaker(code);
    const refused = await acquire(code);
    expect(refused).toMatchObject({ allowed: false, state: 'open' });
    expect(new Date(refused.retry_at!).getTime()).toBeGreaterThan(Date.now() + 50_000);
    // A call admitted before the breaker opened finishes now: it changes nothing.
    expect(await record(code, true)).toBe('open');
    expect((await acquire(code)).allowed).toBe(false);
  });

  it('after a short reset_ms admits exactly one probe among concurrent acquires', async () => {
    const code = await agent();
    await db.sql`insert into public.sub_agent_breakers (sub_agent_code, reset_ms) values (${code}, 300)`;
    await openBreaker(code);
    expect((await acquire(code)).allowed).toBe(false);
    await new Promise((r) => setTimeout(r, 350));
    const wide = postgres(db.url, { max: 20, onnotice: () => {} });
    try {
      const answers = await Promise.all(Array.from({ length: 40 }, () => acquire(code, 60_000, wide)));
      expect(answers.filter((a) => a.allowed)).toEqual([{ allowed: true, state: 'half_open', probe: true }]);
      expect(answers.every((a) => a.state === 'half_open')).toBe(true);
    } finally {
      await wide.end();
    }
    expect((await events(code)).map((e) => `${e.from_state}->${e.to_state}`)).toEqual(['closed->open', 'open->half_open']);
  });
});

describe('half-open', () => {
  it('closes after 2 successes, releasing the probe lease after the first', async () => {
    const code = await agent();
    await openBreaker(code);
    await elapse(code);
    expect(await acquire(code)).toMatchObject({ allowed: true, state: 'half_open' });
    expect(await acquire(code)).toMatchObject({ allowed: false, state: 'half_open' });
    expect(await record(code, true)).toBe('half_open');
    expect(await acquire(code)).toMatchObject({ allowed: true, state: 'half_open' });
    expect(await record(code, true)).toBe('closed');
    expect(await acquire(code)).toEqual({ allowed: true, state: 'closed' });
    expect((await events(code)).map((e) => e.reason)).toEqual(
      ['5 consecutive failures', 'reset timeout elapsed', '2 successes while half-open']);
  });

  it('reopens on a failure, restarting the reset timer', async () => {
    const code = await agent();
    await openBreaker(code);
    await elapse(code);
    expect((await acquire(code)).allowed).toBe(true);
    expect(await record(code, false, 'still down')).toBe('open');
    const refused = await acquire(code);
    expect(refused).toMatchObject({ allowed: false, state: 'open' });
    expect(new Date(refused.retry_at!).getTime()).toBeGreaterThan(Date.now() + 50_000);
    const evs = await events(code);
    expect(evs.at(-1)).toMatchObject({ from_state: 'half_open', to_state: 'open', reason: 'failure while half-open' });
  });

  it('lets another probe go when the first one never reports back', async () => {
    const code = await agent();
    await openBreaker(code);
    await elapse(code);
    expect((await acquire(code, 30)).allowed).toBe(true);
    expect((await acquire(code, 30)).allowed).toBe(false);
    await new Promise((r) => setTimeout(r, 60));
    expect(await acquire(code, 30)).toMatchObject({ allowed: true, state: 'half_open', probe: true });
  });
});

describe('operators and the scheduler', () => {
  it('manual reset closes an open breaker and records the caller', async () => {
    const code = await agent();
    await openBreaker(code);
    const uid = '00000000-0000-4000-8000-0000000000aa';
    const service = connectAs(db.url, 'service_role', { sub: uid });
    try {
      const [row] = await service<{ r: unknown }[]>`select public.fn_breaker_reset(${code}, 'agent redeployed') as r`;
      expect(row!.r).toEqual({ state: 'closed', previous_state: 'open', changed: true });
      expect((await acquire(code, 60_000, service)).allowed).toBe(true);
    } finally {
      await service.end();
    }
    expect((await events(code)).at(-1)).toEqual({
      from_state: 'open', to_state: 'closed', reason: 'manual reset: agent redeployed', actor: 'service_role', actor_uid: uid,
    });
    const [again] = await db.sql<{ r: unknown }[]>`select public.fn_breaker_reset(${code}) as r`;
    expect(again!.r).toEqual({ state: 'closed', previous_state: 'closed', changed: false });
    expect(await events(code)).toHaveLength(2);
  });

  it('sweep moves only elapsed open breakers to half-open', async () => {
    const [elapsed, fresh, closed] = [await agent(), await agent(), await agent()];
    await openBreaker(elapsed);
    await openBreaker(fresh);
    await record(closed, false);
    await elapse(elapsed);
    const [row] = await db.sql<{ n: number }[]>`select public.fn_breaker_sweep() as n`;
    expect(row!.n).toBe(1);
    const states = await db.sql<{ sub_agent_code: string; state: string; probe_in_flight: boolean }[]>`
      select sub_agent_code, state, probe_in_flight from public.sub_agent_breaker_status
      where sub_agent_code in ${db.sql([elapsed, fresh, closed])} order by sub_agent_code`;
    expect(Object.fromEntries(states.map((s) => [s.sub_agent_code, s.state])))
      .toEqual({ [elapsed]: 'half_open', [fresh]: 'open', [closed]: 'closed' });
    expect((await events(elapsed)).at(-1)!.reason).toBe('reset timeout elapsed (sweep)');
    // Swept to half-open with no probe in flight: the next caller is the probe.
    expect(await acquire(elapsed)).toMatchObject({ allowed: true, probe: true });
  });

  it('a direct state change by an operator is recorded too', async () => {
    const code = await agent();
    await db.sql`insert into public.sub_agent_breakers (sub_agent_code) values (${code})`;
    await db.sql`update public.sub_agent_breakers set state = 'open', opened_at = now() where sub_agent_code = ${code}`;
    expect(await events(code)).toMatchObject([{ from_state: 'closed', to_state: 'open', reason: 'direct update' }]);
  });

  it('status view lists a registered sub-agent that never had a breaker as closed', async () => {
    const code = await agent();
    const [row] = await db.sql`select state, failure_threshold, reset_ms, transitions_24h from public.sub_agent_breaker_status where sub_agent_code = ${code}`;
    expect(row).toEqual({ state: 'closed', failure_threshold: 5, reset_ms: 60000, transitions_24h: '0' });
  });
});

describe('input and access', () => {
  it('refuses an unregistered or malformed code with a stable error', async () => {
    await expect(acquire('NO_SUCH_AGENT')).rejects.toMatchObject({ code: 'SG011', message: expect.stringMatching(/^UNKNOWN_GATE: /) });
    await expect(record('', false)).rejects.toMatchObject({ code: 'SG001', message: expect.stringMatching(/^INVALID_INPUT: /) });
    await expect(acquire(await agent(), 0)).rejects.toMatchObject({ code: 'SG001' });
  });

  it.each(['anon', 'authenticated'] as const)('%s may not call any breaker RPC or read the tables', async (role) => {
    const code = await agent();
    const client = connectAs(db.url, role);
    try {
      const attempts = [
        client`select public.fn_breaker_acquire(${code})`,
        client`select public.fn_breaker_record(${code}, false, 'x')`,
        client`select public.fn_breaker_reset(${code})`,
        client`select public.fn_breaker_sweep()`,
        client`select * from public.sub_agent_breakers`,
        client`select * from public.sub_agent_breaker_events`,
        client`select * from public.sub_agent_breaker_status`,
      ];
      for (const attempt of attempts) await expect(attempt).rejects.toMatchObject({ code: '42501' });
    } finally {
      await client.end();
    }
    const [row] = await db.sql`select count(*)::int as n from public.sub_agent_breakers where sub_agent_code = ${code}`;
    expect(row!.n).toBe(0);
  });
});

describe('parity with MemoryBreakerStore', () => {
  type Op = { op: 'acquire' } | { op: 'record'; success: boolean } | { op: 'wait'; fraction: 0.5 | 1 };
  // Weighted and with a failure threshold of 2 so that most runs reach open and half-open.
  const op: fc.Arbitrary<Op> = fc.oneof(
    { arbitrary: fc.constant({ op: 'acquire' } as const), weight: 3 },
    { arbitrary: fc.constant({ op: 'record', success: false } as const), weight: 3 },
    { arbitrary: fc.constant({ op: 'record', success: true } as const), weight: 2 },
    { arbitrary: fc.constantFrom(0.5, 1).map((fraction) => ({ op: 'wait', fraction }) as const), weight: 2 },
  );

  it('goes through the same states for any sequence of calls', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 40 }), async (ops) => {
        const code = await agent();
        await db.sql`insert into public.sub_agent_breakers (sub_agent_code, failure_threshold) values (${code}, 2)`;
        let clock = 1_000_000;
        const memory = new MemoryBreakerStore({ failureThreshold: 2 }, () => clock);
        for (const step of ops) {
          if (step.op === 'acquire') {
            const [fromSql, fromMemory] = [await acquire(code), await memory.acquire(code)];
            expect(fromSql.state).toBe(fromMemory.state);
            // SQL admits one probe at a time; the in-process store admits every half-open call.
            if (fromSql.allowed) expect(fromMemory.allowed).toBe(true);
          } else if (step.op === 'record') {
            await memory.record(code, step.success);
            expect(await record(code, step.success)).toBe(memory.state(code));
          } else {
            clock += 60_000 * step.fraction;
            await db.sql`update public.sub_agent_breakers set opened_at = opened_at - make_interval(secs => 60 * ${step.fraction}::float8)
                         where sub_agent_code = ${code} and state = 'open'`;
          }
        }
        expect((await events(code)).map((e) => `${e.from_state}->${e.to_state}`))
          .toEqual(memory.transitions.map((t) => `${t.from}->${t.to}`));
      }),
      { numRuns: 50 },
    );
  });
});

describe('fn_troubled_breakers', () => {
  it('names the breakers that need the acquire and record RPCs: open, half-open, closed with failures', async () => {
    const [clean, failing, open, halfOpen, none] = [await agent(), await agent(), await agent(), await agent(), `BRK_NONE_${seq++}`];
    await record(clean, true);
    await record(failing, false, 'once');
    await openBreaker(open);
    await openBreaker(halfOpen);
    await elapse(halfOpen);
    expect((await acquire(halfOpen)).state).toBe('half_open');
    const [row] = await db.sql<{ t: string[] }[]>`select public.fn_troubled_breakers(${[clean, failing, open, halfOpen, none]}::text[]) as t`;
    expect(row!.t).toEqual([failing, open, halfOpen].sort());
    // a success resets the count: the breaker is plainly closed again
    await record(failing, true);
    const [after] = await db.sql<{ t: string[] }[]>`select public.fn_troubled_breakers(${[clean, failing]}::text[]) as t`;
    expect(after!.t).toEqual([]);
  });
});

describe('failures count once per attempt (issue #15: one caller cannot open a shared breaker)', () => {
  const recordFor = async (code: string, attempt: string | null, success = false): Promise<{ state: BreakerState; consecutive_failures?: number }> => {
    const [row] = await db.sql<{ r: { state: BreakerState; consecutive_failures?: number } }[]>`
      select public.fn_breaker_record(${code}, ${success}, 'boom', ${attempt}::uuid) as r`;
    return row!.r;
  };

  it('retries within one attempt count once; five distinct attempts open it; a success starts over', async () => {
    const code = await agent();
    const [a, b] = [crypto.randomUUID(), crypto.randomUUID()];
    for (let i = 0; i < 10; i++) expect((await recordFor(code, a)).state).toBe('closed');
    for (let i = 0; i < 10; i++) expect((await recordFor(code, b)).state).toBe('closed');
    const [row] = await db.sql`select consecutive_failures, cardinality(failure_attempts) as attempts from public.sub_agent_breakers where sub_agent_code = ${code}`;
    expect(row).toEqual({ consecutive_failures: 2, attempts: 2 });
    await recordFor(code, crypto.randomUUID(), true);
    const states = [];
    for (let i = 0; i < 5; i++) states.push((await recordFor(code, crypto.randomUUID())).state);
    expect(states).toEqual(['closed', 'closed', 'closed', 'closed', 'open']);
  });

  it('without an attempt every failure counts, as before', async () => {
    const code = await agent();
    const states = [];
    for (let i = 0; i < 5; i++) states.push(await record(code, false, 'boom'));
    expect(states).toEqual(['closed', 'closed', 'closed', 'closed', 'open']);
  });
});
