// The declarative schema (supabase/schemas/) and the migrations generated from it. A database is
// built from the schema files in their numbered order; `supabase db diff --use-pg-delta --from
// <url> --to <url>` (the real CLI, no Docker) reports what a migration must do to turn one
// database into the other. `npm run db:diff` (scripts/db-diff.ts) and the drift test
// (tests/db/schema-drift.test.ts) are both built on these two functions.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';
import { bootstrap, createDatabase, dropDatabase, projectRoot, withDatabase } from './db.ts';

const run = promisify(execFile);
export const schemasDir = path.join(projectRoot, 'supabase', 'schemas');
export const migrationsDir = path.join(projectRoot, 'supabase', 'migrations');

/** supabase/schemas/*.sql in apply order (the NN_ prefix), as config.toml's schema_paths lists them. */
export function schemaFiles(dir = schemasDir): string[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.sql')).sort().map((f) => path.join(dir, f));
}

/**
 * A database of its own, (re)created empty, with the Supabase bootstrap and every schema file
 * applied in order in one transaction, as plain SQL (function bodies checked as they are created,
 * as psql or the CLI's shadow database would apply them): a LANGUAGE sql function may only name
 * objects of its own or an earlier file. PL/pgSQL bodies are resolved when they run.
 */
export async function schemaDatabase(adminUrl: string, name: string, dir = schemasDir): Promise<string> {
  await dropDatabase(adminUrl, name);
  await createDatabase(adminUrl, name);
  const url = withDatabase(adminUrl, name);
  await bootstrap(url);
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 5 });
  try {
    await sql.begin(async (tx) => {
      for (const file of schemaFiles(dir)) {
        try {
          await tx.unsafe(fs.readFileSync(file, 'utf8'));
        } catch (err) {
          throw new Error(`${path.relative(projectRoot, file)}: ${(err as Error).message}`);
        }
      }
    });
  } finally {
    await sql.end({ timeout: 1 });
  }
  return url;
}

/**
 * The SQL that turns database `from` into database `to`, as the Supabase CLI's pg-delta engine
 * writes it; '' when they have the same schema. Both URLs must be on a loopback server.
 */
export async function diffDatabases(from: string, to: string): Promise<string> {
  const cli = path.join(projectRoot, 'node_modules', '.bin', 'supabase');
  const noSsl = (url: string) => {
    const u = new URL(url);
    if (!u.searchParams.has('sslmode')) u.searchParams.set('sslmode', 'disable');
    return u.toString();
  };
  try {
    const { stdout } = await run(cli, ['db', 'diff', '--use-pg-delta', '--from', noSsl(from), '--to', noSsl(to), '--workdir', projectRoot], {
      env: { ...process.env, SUPABASE_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
      timeout: 120000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return meaningful(stdout);
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    throw new Error(`supabase db diff failed: ${(e.stderr || e.stdout || e.message).trim()}`);
  }
}

/**
 * The migration from database `fromName` (on adminUrl's server) to the database at `to`, settled:
 * the CLI's diff is applied to a copy of `from` and diffed again, until nothing is left.
 *
 * Why more than one pass: pg-delta writes a created object's grants as if no default privileges
 * applied, but in `public` they do (hosted Supabase, and stack/bootstrap.sql, grant new tables and
 * functions to anon, authenticated and service_role). Applied as written, a new function would
 * keep EXECUTE for anon. The second pass sees exactly that and adds the REVOKEs. A third pass
 * must find nothing; if it does, the diff cannot express the change and this throws.
 */
export async function settledDiff(adminUrl: string, fromName: string, to: string, maxPasses = 3): Promise<string> {
  const copy = `${fromName}_settle`;
  const passes: string[] = [];
  try {
    await dropDatabase(adminUrl, copy);
    await createDatabase(adminUrl, copy, fromName);
    const copyUrl = withDatabase(adminUrl, copy);
    for (let pass = 0; pass < maxPasses; pass++) {
      const diff = portableGrants(await diffDatabases(copyUrl, to));
      if (diff === '') return passes.join('\n');
      passes.push(diff);
      const sql = postgres(copyUrl, { max: 1, onnotice: () => {}, connect_timeout: 5 });
      try {
        await sql.begin((tx) => tx.unsafe(diff));
      } finally {
        await sql.end({ timeout: 1 });
      }
    }
    throw new Error(`the diff does not settle after ${maxPasses} passes; still different:\n${await diffDatabases(copyUrl, to)}`);
  } finally {
    await dropDatabase(adminUrl, copy);
  }
}

// PostgreSQL 17 added the MAINTAIN table privilege, and pg-delta (run against the embedded 17)
// spells a table's full privilege set out with it; PostgreSQL 15 and 16 (self-hosted servers the
// README supports) refuse the word. ALL means the same set on each version, so a full list
// becomes ALL; a partial list naming MAINTAIN cannot be written portably and is refused.
const FULL_TABLE_PRIVILEGES = 'DELETE, INSERT, MAINTAIN, REFERENCES, SELECT, TRIGGER, TRUNCATE, UPDATE';

export function portableGrants(diff: string): string {
  const out = diff.replaceAll(`GRANT ${FULL_TABLE_PRIVILEGES} ON TABLE`, 'GRANT ALL ON TABLE')
    .replaceAll(`REVOKE ${FULL_TABLE_PRIVILEGES} ON TABLE`, 'REVOKE ALL ON TABLE');
  const left = out.split('\n').find((line) => /^\s*(GRANT|REVOKE)\b.*\bMAINTAIN\b/i.test(line));
  if (left) throw new Error(`a grant names MAINTAIN (PostgreSQL 17 only) in a way ALL cannot replace: ${left.trim()}`);
  return out;
}

/** The diff without what every diff has (the check_function_bodies preamble): '' = no changes. */
export function meaningful(diff: string): string {
  const body = diff.replace(/^\s*set local check_function_bodies = off;\s*/i, '').trim();
  return body === '' ? '' : diff.trim() + '\n';
}
