import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { seedDirective } from '../helpers/fixtures.ts';

describe('NOTIFY stagegate_transition', () => {
  let db: FreshDatabase;
  beforeAll(async () => { db = await freshDatabase(); });
  afterAll(async () => { await db.drop(); });

  const gates = [{ code: 'STORIES_DONE', passed: true, score: 100, maxScore: 100 }];
  type Note = { sd_id: string; to_phase: string; audit_id: string };

  /** Runs one EXEC-TO-PLAN handoff on a connection with stagegate.notify_transitions = mode. */
  async function transition(sdId: string, mode: string | null): Promise<Record<string, unknown>> {
    await seedDirective(db.sql, { id: sdId, phase: 'EXEC' });
    const conn = postgres(db.url, { max: 1, onnotice: () => {}, connection: (mode === null ? {} : { 'stagegate.notify_transitions': mode }) as Record<string, string> });
    try {
      const [r] = await conn`select public.fn_execute_handoff(${sdId}, 'EXEC-TO-PLAN', 's', ${`req-${sdId}`}, ${conn.json(gates)}) as r`;
      expect(r!.r).toMatchObject({ verdict: 'accepted' });
      return r!.r as Record<string, unknown>;
    } finally {
      await conn.end();
    }
  }
  const settle = () => new Promise((r) => setTimeout(r, 250));

  it('goes through the outbox by default: sent by the relay sweep, in order, exactly once', async () => {
    const notes: Note[] = [];
    const listener = await db.sql.listen('stagegate_transition', (p) => notes.push(JSON.parse(p)));
    try {
      const first = await transition('SD-NOTE-OUT-1', null);
      const second = await transition('SD-NOTE-OUT-2', 'outbox');
      await settle();
      expect(notes).toEqual([]); // nothing yet: the commit only wrote the outbox
      const [pending] = await db.sql`select count(*)::int as n from transition_notifications`;
      expect(pending!.n).toBe(2);

      const [run] = await db.sql`select public.fn_run_sweep('transition_notifications') as r`;
      expect(run!.r).toMatchObject({ ok: true, result: { transition_notifications: 2 } });
      await settle();
      expect(notes.map((n) => [n.sd_id, n.to_phase, n.audit_id])).toEqual([
        ['SD-NOTE-OUT-1', 'EXEC_COMPLETE', first.audit_id],
        ['SD-NOTE-OUT-2', 'EXEC_COMPLETE', second.audit_id],
      ]);
      const [left] = await db.sql`select count(*)::int as n from transition_notifications`;
      expect(left!.n).toBe(0);
      const [again] = await db.sql`select public.fn_sweep_transition_notifications() as r`;
      expect(again!.r).toEqual({ transition_notifications: 0 });
      await settle();
      expect(notes).toHaveLength(2);
    } finally {
      await listener.unlisten();
    }
  });

  it('is sent by the completing transaction itself when the setting is commit, and never when it is off', async () => {
    const notes: Note[] = [];
    const listener = await db.sql.listen('stagegate_transition', (p) => notes.push(JSON.parse(p)));
    try {
      await transition('SD-NOTE-COMMIT', 'commit');
      await transition('SD-NOTE-OFF', 'off');
      await settle();
      expect(notes.map((n) => n.sd_id)).toEqual(['SD-NOTE-COMMIT']);
      const [pending] = await db.sql`select count(*)::int as n from transition_notifications`;
      expect(pending!.n).toBe(0);
    } finally {
      await listener.unlisten();
    }
  });

  it('leaves nothing in the outbox when the transition is rolled back or rejected', async () => {
    await seedDirective(db.sql, { id: 'SD-NOTE-RB', phase: 'EXEC' });
    await db.sql.begin(async (tx) => {
      await tx`select public.fn_execute_handoff('SD-NOTE-RB', 'EXEC-TO-PLAN', 's', 'req-rb', ${tx.json(gates)})`;
      await tx`select 1/0`.catch(() => {});
    }).catch(() => {});
    const rejected = [{ code: 'STORIES_DONE', passed: false, score: 0, maxScore: 100 }];
    await seedDirective(db.sql, { id: 'SD-NOTE-REJ', phase: 'EXEC' });
    const [r] = await db.sql`select public.fn_execute_handoff('SD-NOTE-REJ', 'EXEC-TO-PLAN', 's', 'req-rej', ${db.sql.json(rejected)}) ->> 'verdict' as v`;
    expect(r!.v).toBe('rejected');
    const [pending] = await db.sql`select count(*)::int as n from transition_notifications`;
    expect(pending!.n).toBe(0);
  });

  it('refuses a non-positive batch size, and a second relay running at once sends nothing', async () => {
    await expect(db.sql`select public.fn_sweep_transition_notifications(0)`).rejects.toMatchObject({ code: 'SG001' });
    await transition('SD-NOTE-BUSY', null);
    await db.sql.begin(async (tx) => {
      await tx`select pg_advisory_xact_lock(hashtext('stagegate.transition_notifications')::bigint)`;
      const other = postgres(db.url, { max: 1, onnotice: () => {} });
      try {
        const [busy] = await other`select public.fn_sweep_transition_notifications() as r`;
        expect(busy!.r).toEqual({ transition_notifications: 0, busy: true });
      } finally {
        await other.end();
      }
    });
    const [sent] = await db.sql`select public.fn_sweep_transition_notifications() as r`;
    expect(sent!.r).toEqual({ transition_notifications: 1 });
  });
});
