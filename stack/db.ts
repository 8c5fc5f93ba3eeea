// Database preparation shared by `npm start` and the test harness: wait until the server accepts
// connections, create what hosted Supabase already has (bootstrap.sql), then apply
// supabase/migrations with the real Supabase CLI so the history table is the one hosted keeps.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import postgres from 'postgres';

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
export const projectRoot = path.resolve(here, '..');

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

function quiet() {
  return { max: 1, onnotice: () => {}, connect_timeout: 5 } as const;
}

export async function waitForDatabase(url: string, timeoutMs = 15000, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (signal?.aborted) throw new Error('waiting for the database: interrupted');
    const sql = postgres(url, quiet());
    try {
      await sql`select 1`;
      return;
    } catch (err) {
      lastError = err;
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      await sql.end({ timeout: 1 });
    }
  }
  throw new Error(`database did not accept connections within ${timeoutMs} ms: ${(lastError as Error)?.message}`);
}

export async function bootstrap(url: string): Promise<void> {
  const sql = postgres(url, quiet());
  try {
    await sql.unsafe(fs.readFileSync(path.join(here, 'bootstrap.sql'), 'utf8'));
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/**
 * Applies pending migrations with `supabase migration up`; returns the CLI's output. Aborting
 * `signal` stops the CLI (each migration is its own transaction: the next run goes on from there).
 */
export async function migrate(url: string, signal?: AbortSignal): Promise<string> {
  const cli = path.join(projectRoot, 'node_modules', '.bin', 'supabase');
  const dbUrl = new URL(url);
  if (!dbUrl.searchParams.has('sslmode')) dbUrl.searchParams.set('sslmode', 'disable');
  try {
    const { stdout, stderr } = await run(cli, ['migration', 'up', '--db-url', dbUrl.toString(), '--workdir', projectRoot], {
      env: { ...process.env, SUPABASE_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' },
      timeout: 120000,
      signal,
    });
    return `${stdout}${stderr}`;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    const said = (e.stderr || e.stdout || e.message).trim();
    // The database's history names migrations this checkout does not have: another version of
    // stagegate made it (a later one, or one whose migrations were since renamed).
    if (/Remote migration versions not found in local migrations directory/.test(said)) {
      const unknown = [...said.matchAll(/\b(\d{14})\b/g)].map((m) => m[1]);
      throw new Error(`the database has migrations this checkout does not know (${[...new Set(unknown)].join(', ') || 'see below'}): another version of stagegate made it. `
        + 'Check out that version, or start afresh with `npm run reset` (deletes the local stack\'s data)\n' + said);
    }
    throw new Error(`supabase migration up failed: ${said}`);
  }
}

function ident(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`invalid database name '${name}'`);
  return `"${name}"`;
}

export async function createDatabase(adminUrl: string, name: string, template?: string): Promise<void> {
  const sql = postgres(adminUrl, quiet());
  try {
    const exists = await sql`select 1 from pg_database where datname = ${name}`;
    if (exists.length > 0) return;
    await sql.unsafe(`create database ${ident(name)}${template ? ` template ${ident(template)}` : ''}`);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const sql = postgres(adminUrl, quiet());
  try {
    await sql.unsafe(`drop database if exists ${ident(name)} with (force)`);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/** A database of its own, (re)created empty, with the Supabase bootstrap and every migration. */
export async function migratedDatabase(adminUrl: string, name: string): Promise<string> {
  await dropDatabase(adminUrl, name);
  await createDatabase(adminUrl, name);
  const url = withDatabase(adminUrl, name);
  await bootstrap(url);
  await migrate(url);
  return url;
}
