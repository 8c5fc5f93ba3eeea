import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';

const root = path.resolve(import.meta.dirname, '../..');
const coreMigrations = fs.readdirSync(path.join(root, 'supabase/migrations'))
  .filter((f) => /^2026112501\d{4}_.*\.sql$/.test(f)).sort();

describe('supabase/down/down.sql', () => {
  let db: FreshDatabase;
  beforeAll(async () => { db = await freshDatabase(); });
  afterAll(async () => { await db.drop(); });

  const coreObjects = () => db.sql<{ n: number }[]>`
    select (select count(*) from pg_class where relnamespace = 'public'::regnamespace and relname = any(array[
              'strategic_directives_v2', 'sd_transition_audit', 'leo_sub_agents', 'handoff_attempts', 'threshold_profiles']))::int
         + (select count(*) from pg_proc where pronamespace = 'public'::regnamespace and (proname like 'fn\\_atomic\\_%'
              or proname in ('fn_begin_handoff', 'fn_complete_handoff', 'fn_sd_lock_key', 'tg__set_updated_at')))::int as n`;

  it('removes everything the core created, then the core migrations apply again and work', async () => {
    const { sql } = db;
    expect((await coreObjects())[0]!.n).toBe(13);
    await sql.file(path.join(root, 'supabase/down/down.sql'));
    expect((await coreObjects())[0]!.n).toBe(0);
    const leftovers = await sql`select p.proname from pg_proc p where p.pronamespace = 'public'::regnamespace
      and (p.proname like 'fn\\_gate\\_%' or p.proname like 'tg\\_%guard')`;
    expect(leftovers).toEqual([]);

    for (const f of coreMigrations) await sql.file(path.join(root, 'supabase/migrations', f));
    await sql`insert into strategic_directives_v2 (id, title, current_phase) values ('SD-DOWN-001', 'again', 'EXEC')`;
    const [r] = await sql`select fn_execute_handoff('SD-DOWN-001', 'EXEC-TO-PLAN', 's', 'r', '[]') as r`;
    expect(r!.r.verdict).toBe('accepted');
  });
});
