// A database made by another version of stagegate (its migration history names a migration this
// checkout does not have): `npm start` says so and what to do, instead of passing on the CLI's
// advice to repair the history table.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '../../stack/db.ts';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';

let db: FreshDatabase;
beforeAll(async () => { db = await freshDatabase(); });
afterAll(async () => { await db.drop(); });

describe('migrate on a database another version made', () => {
  it('names the unknown migrations and says how to go on, leaving the database as it was', async () => {
    await db.sql`insert into supabase_migrations.schema_migrations (version, name) values ('20991231235959', 'from_the_future')`;
    const [before] = await db.sql`select count(*)::int as n from supabase_migrations.schema_migrations`;
    const err = await migrate(db.url).then(() => null, (e: Error) => e);
    expect(err?.message.split('\n')[0]).toBe('the database has migrations this checkout does not know (20991231235959): another version of stagegate made it. '
      + 'Check out that version, or start afresh with `npm run reset` (deletes the local stack\'s data)');
    const [after] = await db.sql`select count(*)::int as n from supabase_migrations.schema_migrations`;
    expect(after!.n).toBe(before!.n);
    await db.sql`delete from supabase_migrations.schema_migrations where version = '20991231235959'`;
    await expect(migrate(db.url)).resolves.toEqual(expect.any(String));
  });
});
