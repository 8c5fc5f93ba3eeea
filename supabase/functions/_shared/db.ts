// One postgres.js pool per function instance, from the SUPABASE_DB_URL the runtime injects.
// Functions reach the database only through RPCs (the database owns every transition).
import postgres from 'postgres';
import { settings } from './config.ts';

let pool: postgres.Sql | undefined;

export function db(): postgres.Sql {
  if (pool) return pool;
  const url = Deno.env.get('SUPABASE_DB_URL');
  if (!url) throw new Error('SUPABASE_DB_URL is not set');
  pool = postgres(url, {
    max: settings().STAGEGATE_DB_POOL,
    idle_timeout: 30,
    connect_timeout: 5,
    onnotice: () => {},
    connection: { application_name: 'stagegate-functions' },
  });
  return pool;
}
