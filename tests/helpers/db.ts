// Each test file gets its own database, cloned from the migrated template in a few ms.
import { inject } from 'vitest';
import postgres from 'postgres';
import { createDatabase, dropDatabase, withDatabase } from '../../stack/db.ts';

export interface FreshDatabase {
  sql: postgres.Sql;
  url: string;
  name: string;
  /** Closes the client and drops the database. */
  drop: () => Promise<void>;
}

let counter = 0;

export async function freshDatabase(options: postgres.Options<Record<string, never>> = {}): Promise<FreshDatabase> {
  const adminUrl = inject('adminUrl');
  const name = `t_${process.pid}_${Date.now().toString(36)}_${counter++}`;
  await createDatabase(adminUrl, name, inject('template'));
  const url = withDatabase(adminUrl, name);
  const sql = postgres(url, { max: 10, onnotice: () => {}, ...options });
  return {
    sql,
    url,
    name,
    drop: async () => {
      await sql.end({ timeout: 1 });
      await dropDatabase(adminUrl, name);
    },
  };
}

/** A client that runs every statement as `role` (anon, authenticated, service_role) with the given JWT claims. */
export function connectAs(url: string, role: 'anon' | 'authenticated' | 'service_role', claims: Record<string, unknown> = {}): postgres.Sql {
  return postgres(url, {
    max: 1,
    onnotice: () => {},
    connection: { role, 'request.jwt.claims': JSON.stringify({ role, ...claims }) } as Record<string, string>,
  });
}
