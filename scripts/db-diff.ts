// npm run db:diff -- <name>
//
// Generates the migration for a change to supabase/schemas/: builds one database from
// supabase/migrations/ and one from supabase/schemas/ on a scratch embedded PostgreSQL (or on
// DATABASE_URL's server), asks the real Supabase CLI for the difference (`supabase db diff
// --use-pg-delta --from <migrations> --to <schemas>`, no Docker needed; see settledDiff in
// stack/schema.ts for why it may take two passes) and writes it to
// supabase/migrations/<UTC timestamp>_<name>.sql. Says "no changes" and writes nothing when the
// two databases have the same schema. Table rows are not part of a schema diff: a data change is
// a hand-written migration (see README, "SQL layout").
import fs from 'node:fs';
import path from 'node:path';
import { dropDatabase, migratedDatabase, projectRoot } from '../stack/db.ts';
import { scratchPostgres } from '../stack/postgres.ts';
import { migrationsDir, schemaDatabase, settledDiff } from '../stack/schema.ts';

export function migrationName(name: string | undefined, now = new Date()): string {
  if (!name || !/^[a-z][a-z0-9_]{0,79}$/.test(name)) {
    throw new Error('usage: npm run db:diff -- <name>  (lower-case letters, digits and _, starting with a letter)');
  }
  const stamp = now.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return `${stamp}_${name}.sql`;
}

async function main() {
  const file = migrationName(process.argv[2]);
  const t0 = performance.now();
  const server = await scratchPostgres({ prefix: 'stagegate-diff-', durable: false });
  const suffix = `${process.pid}`;
  const names = [`diff_migrations_${suffix}`, `diff_schemas_${suffix}`] as const;
  try {
    const [, to] = await Promise.all([migratedDatabase(server.adminUrl, names[0]), schemaDatabase(server.adminUrl, names[1])]);
    const diff = await settledDiff(server.adminUrl, names[0], to);
    const ms = Math.round(performance.now() - t0);
    if (diff === '') {
      console.log(`no changes: supabase/migrations/ and supabase/schemas/ give the same schema (${ms} ms)`);
      return;
    }
    const target = path.join(migrationsDir, file);
    fs.writeFileSync(target, diff);
    console.log(`wrote ${path.relative(projectRoot, target)} (${diff.split('\n').length} lines, ${ms} ms); read it before you commit it`);
  } finally {
    if (process.env.DATABASE_URL) for (const n of names) await dropDatabase(server.adminUrl, n);
    await server.stop();
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  main().catch((err: unknown) => {
    console.error(JSON.stringify({ error: { code: 'DB_DIFF_FAILED', message: (err as Error).message } }));
    process.exit(1);
  });
}
