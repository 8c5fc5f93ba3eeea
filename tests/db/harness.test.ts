import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectAs, freshDatabase, type FreshDatabase } from '../helpers/db.ts';

describe('test harness', () => {
  let db: FreshDatabase;
  beforeAll(async () => { db = await freshDatabase(); });
  afterAll(async () => { await db.drop(); });

  it('clones a database that has the Supabase roles and auth helpers', async () => {
    const roles = await db.sql<{ rolname: string }[]>`select rolname from pg_roles where rolname in ('anon','authenticated','service_role') order by 1`;
    expect(roles.map((r) => r.rolname)).toEqual(['anon', 'authenticated', 'service_role']);
    const [row] = await db.sql<{ name: string }[]>`select current_database() as name`;
    expect(row?.name).toBe(db.name);
  });

  it('runs statements as another role with JWT claims visible to auth.*', async () => {
    const uid = '00000000-0000-4000-8000-000000000001';
    const anon = connectAs(db.url, 'authenticated', { sub: uid });
    try {
      const [row] = await anon<{ role: string; uid: string; who: string }[]>`select auth.role() as role, auth.uid()::text as uid, current_user as who`;
      expect(row).toEqual({ role: 'authenticated', uid, who: 'authenticated' });
    } finally {
      await anon.end();
    }
  });
});
