// stack/scheduler.ts: the local pg_cron. Reads sweep_schedule, runs each sweep at its interval
// through fn_run_sweep, logs failures and keeps going.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScheduler, type SweepLog } from '../../stack/scheduler.ts';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';

let db: FreshDatabase;
beforeAll(async () => { db = await freshDatabase(); });
afterAll(async () => { await db?.drop(); });

describe('startScheduler', () => {
  it('runs each enabled sweep on start and then at its interval from sweep_schedule', async () => {
    await db.sql`update public.sweep_schedule set interval = '1 second' where name = 'expired_claims'`;
    await db.sql`update public.sweep_schedule set enabled = false where name = 'idempotency'`;
    const logs: SweepLog[] = [];
    const s = await startScheduler({ dbUrl: db.url, log: (e) => logs.push(e) });
    try {
      expect(s.sweeps).toContainEqual({ name: 'expired_claims', intervalMs: 1000 });
      expect(s.sweeps).toContainEqual({ name: 'stuck_attempts', intervalMs: 300000 });
      expect(s.sweeps.map((x) => x.name)).not.toContain('idempotency');
      await new Promise((r) => setTimeout(r, 2300));
      const runs = logs.filter((l) => l.msg === 'sweep' && l.name === 'expired_claims');
      expect(runs.length).toBeGreaterThanOrEqual(3); // on start, +1 s, +2 s
      expect(logs.filter((l) => l.msg === 'sweep' && l.name === 'stuck_attempts')).toHaveLength(1); // on start only
      const [row] = await db.sql`select last_run_at, last_result from public.sweep_schedule where name = 'expired_claims'`;
      expect(Date.now() - row!.last_run_at.getTime()).toBeLessThan(1500);
      expect(row!.last_result).toEqual({ expired_claims: 0 });
    } finally {
      await s.stop();
    }
    const after = logs.length;
    await new Promise((r) => setTimeout(r, 1200));
    expect(logs.length).toBe(after);
  });

  it('logs a failing or unknown sweep as an error without throwing, and reports what a sweep did', async () => {
    await db.sql`insert into public.sweep_schedule (name, sql_function, interval) values ('broken', 'public.fn_sweep_missing', '1 minute')`;
    await db.sql`insert into public.strategic_directives_v2 (id, title) values ('SD-SCHED-1', 'x')`;
    await db.sql`insert into public.sd_claims (sd_id, session_id, expires_at) values ('SD-SCHED-1', 's', now() - interval '1 minute')`;
    const logs: SweepLog[] = [];
    const s = await startScheduler({ dbUrl: db.url, runOnStart: false, log: (e) => logs.push(e) });
    try {
      const broken = await s.runNow('broken');
      expect(broken).toMatchObject({ name: 'broken', ok: false });
      expect(logs.at(-1)).toMatchObject({ level: 'error', msg: 'sweep', name: 'broken' });
      const claims = await s.runNow('expired_claims');
      expect(claims).toMatchObject({ ok: true, result: { expired_claims: 1 } });
      expect(logs.at(-1)).toMatchObject({ level: 'info', name: 'expired_claims' });
      const nothing = await s.runNow('breakers');
      expect(logs.at(-1)).toMatchObject({ level: 'debug', name: 'breakers' });
      expect(nothing.ok).toBe(true);
      // a sweep dropped from the table while the timers run: an error entry, not an exception
      const gone = await s.runNow('nope');
      expect(gone.ok).toBe(false);
      expect(logs.at(-1)).toMatchObject({ level: 'error' });
    } finally {
      await s.stop();
    }
  });
});
