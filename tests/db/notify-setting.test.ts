import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { seedDirective } from '../helpers/fixtures.ts';

describe('NOTIFY stagegate_transition', () => {
  let db: FreshDatabase;
  beforeAll(async () => { db = await freshDatabase(); });
  afterAll(async () => { await db.drop(); });

  const gates = [{ code: 'STORIES_DONE', passed: true, score: 100, maxScore: 100 }];

  it('is sent for an accepted transition by default, and not when stagegate.notify_transitions is off', async () => {
    const notes: { sd_id: string; to_phase: string }[] = [];
    const listener = await db.sql.listen('stagegate_transition', (p) => notes.push(JSON.parse(p)));
    await seedDirective(db.sql, { id: 'SD-NOTE-1', phase: 'EXEC' });
    await seedDirective(db.sql, { id: 'SD-NOTE-2', phase: 'EXEC' });
    await db.sql`select public.fn_execute_handoff('SD-NOTE-1', 'EXEC-TO-PLAN', 's', 'n1', ${db.sql.json(gates)})`;
    const quiet = postgres(db.url, { max: 1, onnotice: () => {}, connection: { 'stagegate.notify_transitions': 'off' } as Record<string, string> });
    try {
      const [r] = await quiet`select public.fn_execute_handoff('SD-NOTE-2', 'EXEC-TO-PLAN', 's', 'n2', ${quiet.json(gates)}) ->> 'verdict' as v`;
      expect(r?.v).toBe('accepted');
    } finally {
      await quiet.end();
    }
    await new Promise((r) => setTimeout(r, 300));
    await listener.unlisten();
    expect(notes.map((n) => [n.sd_id, n.to_phase])).toEqual([['SD-NOTE-1', 'EXEC_COMPLETE']]);
  });
});
