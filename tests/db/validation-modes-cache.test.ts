// The mode cache against a real database that does not answer in time: it falls back (ENFORCE)
// or answers the last value (stale) within its timeout, and the slow query is cancelled.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ModeCache, sqlModeFetcher, type ModeFetcher } from '../../shared/mode-cache.ts';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';

let db: FreshDatabase;
beforeAll(async () => {
  db = await freshDatabase();
  await db.sql`select fn_set_validation_mode('*', 'WARN', 'cache test')`;
});
afterAll(async () => { await db?.drop(); });

const backendsRunning = async (pattern: string) =>
  (await db.sql`select count(*)::int as n from pg_stat_activity where state = 'active' and query like ${pattern}`)[0]!.n as number;

describe('ModeCache with a slow database', () => {
  it('falls back to ENFORCE within the timeout when pg_sleep(1) holds the read, and cancels it', async () => {
    const slow: ModeFetcher = async (scope, signal) => {
      const query = db.sql`select pg_sleep(1), public.fn_get_validation_mode(${scope}) as mode`;
      signal.addEventListener('abort', () => { query.cancel(); }, { once: true });
      return (await query)[0]?.mode;
    };
    const cache = new ModeCache({ fetch: slow, timeoutMs: 100 });
    const t0 = performance.now();
    expect(await cache.read('feature')).toEqual({ mode: 'ENFORCE', source: 'fallback', age_ms: null });
    expect(performance.now() - t0).toBeLessThan(400);
    await new Promise((r) => setTimeout(r, 100));
    expect(await backendsRunning('select pg_sleep(1)%')).toBe(0);
  });

  it('answers the last value read (stale) while a lock keeps fn_get_validation_mode waiting', async () => {
    const cache = new ModeCache({ fetch: sqlModeFetcher(db.sql), ttlMs: 0, timeoutMs: 150 });
    expect(await cache.read('*')).toMatchObject({ mode: 'WARN', source: 'database' });
    let release: () => void = () => {};
    const held = new Promise<void>((r) => { release = r; });
    const locker = db.sql.begin(async (tx) => {
      await tx`lock table public.validation_modes in access exclusive mode`;
      await held;
    });
    await new Promise((r) => setTimeout(r, 50));
    try {
      const t0 = performance.now();
      expect(await cache.read('*')).toMatchObject({ mode: 'WARN', source: 'stale' });
      expect(performance.now() - t0).toBeLessThan(500);
    } finally {
      release();
      await locker;
    }
    expect(await cache.read('*')).toMatchObject({ mode: 'WARN', source: 'database' });
  });
});
