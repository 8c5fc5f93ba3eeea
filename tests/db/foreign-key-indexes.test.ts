import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';

// A foreign key whose parent's delete or key update acts on the children (CASCADE, SET NULL,
// SET DEFAULT) runs one query on the child table per parent row; without an index leading with
// the key, each is a sequential scan of the child table.
describe('foreign keys with referential actions', () => {
  let db: FreshDatabase;
  beforeAll(async () => { db = await freshDatabase(); });
  afterAll(async () => { await db.drop(); });

  it('every one has an index on the child that leads with its columns', async () => {
    const fks = await db.sql<{ child: string; name: string; indexed: boolean }[]>`
      select c.conrelid::regclass::text as child, c.conname as name,
             exists (select 1 from pg_index i
                     where i.indrelid = c.conrelid
                       and (i.indkey::int2[])[0:cardinality(c.conkey) - 1] = c.conkey) as indexed
      from pg_constraint c join pg_namespace n on n.oid = c.connamespace
      where c.contype = 'f' and n.nspname = 'public'
        and (c.confdeltype in ('c', 'n', 'd') or c.confupdtype in ('c', 'n', 'd'))`;
    expect(fks.length).toBeGreaterThanOrEqual(5);
    expect(fks.filter((f) => !f.indexed).map((f) => `${f.child}.${f.name}`)).toEqual([]);
  });

  it('deleting a PRD nulls its stories through the index, not a scan of every story', async () => {
    const { sql } = db;
    await sql`insert into strategic_directives_v2 (id, title) values ('SD-FKIDX-001', 't')`;
    await sql`insert into product_requirements_v2 (id, sd_id, title) values ('PRD-FKIDX-001', 'SD-FKIDX-001', 'p')`;
    await sql`insert into user_stories (story_key, sd_id, prd_id, title) values ('US-1', 'SD-FKIDX-001', 'PRD-FKIDX-001', 's')`;
    // the query the SET NULL action runs; with sequential scans priced out, the planner uses the
    // index if there is one that fits
    const plan = await sql.begin(async (tx) => {
      await tx`set local enable_seqscan = off`;
      return await tx.unsafe(`explain (format json) update public.user_stories set prd_id = null where prd_id = 'PRD-FKIDX-001'`);
    });
    expect(JSON.stringify(plan)).toContain('user_stories_prd_id_idx');
    await sql`delete from product_requirements_v2 where id = 'PRD-FKIDX-001'`;
    const [story] = await sql`select prd_id from user_stories where sd_id = 'SD-FKIDX-001'`;
    expect(story!.prd_id).toBeNull();
  });
});
