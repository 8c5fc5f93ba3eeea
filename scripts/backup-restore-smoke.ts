// Backup-and-restore smoke: dump a stagegate database, restore it into a fresh database on the
// same server, and check that the copy is the same system: row count and content hash of every
// public table, the distinct phases of the directives, and the audit chain (every completed
// transition starts where the previous completed one of the same directive ended).
//
//   DATABASE_URL=postgresql://… node_modules/.bin/tsx scripts/backup-restore-smoke.ts [--keep] [--engine pg_dump|copy]
//
// Engines. pg_dump: pg_dump -Fc + pg_restore, used when a client at least as new as the server is
// found (PG_BIN_DIR, /usr/lib/postgresql/*/bin, PATH) — pg_dump refuses newer servers, and Debian 12
// only has client 15 while our server is 17. copy: the schema from the migrations through the
// Supabase CLI (as a deploy builds it), the rows as JSON, one file per table; checked against
// the source's migration history. Either way the restored schema is then compared with the
// source's by the Supabase CLI's diff (the one `npm run db:diff` and the drift test use), so a
// source whose schema drifted from supabase/schemas/ (a hand-made change) fails the smoke instead
// of restoring as something else. Exit 0 = identical, 1 = a mismatch (listed), 2 = could not run.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { bootstrap, createDatabase, dropDatabase, migrate, withDatabase } from '../stack/db.ts';
import { diffDatabases } from '../stack/schema.ts';

type Sql = postgres.Sql;
const quiet = { max: 2, onnotice: () => {}, connect_timeout: 10 } as const;

function findPgDump(serverMajor: number): string | undefined {
  const dirs = [process.env.PG_BIN_DIR, ...(fs.existsSync('/usr/lib/postgresql') ? fs.readdirSync('/usr/lib/postgresql').map((v) => `/usr/lib/postgresql/${v}/bin`) : []),
    ...(process.env.PATH ?? '').split(':')].filter((d): d is string => !!d);
  for (const dir of dirs) {
    const bin = path.join(dir, 'pg_dump');
    if (!fs.existsSync(bin) || !fs.existsSync(path.join(dir, 'pg_restore'))) continue;
    const major = Number(/(\d+)/.exec(execFileSync(bin, ['--version']).toString())?.[1]);
    if (major >= serverMajor) return dir;
  }
  return undefined;
}

const ident = (s: string) => `"${s.replace(/"/g, '""')}"`;

async function publicTables(sql: Sql): Promise<{ table: string; columns: string[] }[]> {
  const rows = await sql<{ table: string; columns: string[] }[]>`
    select c.relname as table, array_agg(a.attname order by a.attnum) filter (where a.attgenerated = '') as columns
    from pg_class c join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
    where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p')
    group by c.relname order by c.relname`;
  return rows;
}

async function latestMigration(sql: Sql): Promise<string | null> {
  const [row] = await sql`select max(version) as v from supabase_migrations.schema_migrations`.catch(() => [{ v: null }]);
  return (row?.v as string | null) ?? null;
}

// Rows as JSON, one file per table: no COPY streams, so nothing here can wait on a stream that
// never ends; fine for a smoke test's sizes (use pg_dump for big databases).
async function dumpWithCopy(sql: Sql, dir: string): Promise<void> {
  const tables = await publicTables(sql);
  for (const t of tables) {
    const [r] = await sql.unsafe(`select coalesce(jsonb_agg(jsonb_build_object(${t.columns.map((c) => `'${c.replace(/'/g, "''")}', x.${ident(c)}`).join(', ')})), '[]')::text as rows from public.${ident(t.table)} x`);
    // as text: through JS numbers, jsonb's 85.00 would come back as 85
    fs.writeFileSync(path.join(dir, `${t.table}.json`), r!.rows as string);
  }
  fs.writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify({ migration: await latestMigration(sql), tables }, null, 2));
}

async function restoreWithCopy(targetUrl: string, dir: string, log: (l: string) => void): Promise<void> {
  const t0 = performance.now();
  await bootstrap(targetUrl);
  await migrate(targetUrl);
  log(`restore: schema from the migrations in ${Math.round(performance.now() - t0)} ms`);
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as { migration: string | null; tables: { table: string; columns: string[] }[] };
  const sql = postgres(targetUrl, { ...quiet, max: 1 });
  try {
    const here = await latestMigration(sql);
    if (here !== manifest.migration) {
      throw new Error(`the backup was taken at migration ${manifest.migration}, these migrations end at ${here}: restore with the matching checkout`);
    }
    await sql.begin(async (tx) => {
      // replica: no triggers (the rows are history, not new changes) and no FK order to respect
      await tx`set local session_replication_role = replica`;
      await tx.unsafe(`truncate ${manifest.tables.map((t) => `public.${ident(t.table)}`).join(', ')}`);
      for (const t of manifest.tables) {
        const cols = t.columns.map(ident).join(', ');
        const rows = fs.readFileSync(path.join(dir, `${t.table}.json`), 'utf8');
        await tx.unsafe(`insert into public.${ident(t.table)} (${cols}) overriding system value
          select ${cols} from jsonb_populate_recordset(null::public.${ident(t.table)}, $1::text::jsonb)`, [rows]);
      }
      // identity and serial columns continue after the restored rows
      const sequences = await tx<{ tbl: string; col: string; seq: string }[]>`
        select format('public.%I', c.relname) as tbl, a.attname as col, pg_get_serial_sequence(format('public.%I', c.relname), a.attname) as seq
        from pg_class c join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        where c.relnamespace = 'public'::regnamespace and c.relkind = 'r'
          and pg_get_serial_sequence(format('public.%I', c.relname), a.attname) is not null`;
      for (const s of sequences) {
        await tx.unsafe(`select setval($1, coalesce(max(${ident(s.col)}), 1), max(${ident(s.col)}) is not null) from ${s.tbl}`, [s.seq]);
      }
    });
  } finally {
    await sql.end({ timeout: 1 });
  }
}

export interface Snapshot {
  tables: Record<string, { rows: number; md5: string | null }>;
  phases: string[];
  completedAudits: number;
  chainBreaks: { sd_id: string; audit_id: string; pre: unknown; previous_post: unknown }[];
  /** Rows of public.fn_check_invariants() other than audit_chain (in chainBreaks) where that function exists (null where it does not). */
  invariants: { invariant: string; subject: string }[] | null;
}

export async function snapshot(sql: Sql): Promise<Snapshot> {
  const tables: Snapshot['tables'] = {};
  for (const t of await publicTables(sql)) {
    const [r] = await sql.unsafe(`select count(*)::int as rows, md5(string_agg(x::text, E'\\n' order by x::text)) as md5 from public.${ident(t.table)} x`);
    tables[t.table] = { rows: r!.rows as number, md5: r!.md5 as string | null };
  }
  const phases = (await sql`select distinct current_phase from public.strategic_directives_v2 order by 1`).map((r) => r.current_phase as string);
  const [{ n }] = (await sql`select count(*)::int as n from public.sd_transition_audit where status = 'completed'`) as unknown as [{ n: number }];
  const rows = (await sql`select to_regprocedure('public.fn_check_invariants()') is not null as e`)[0]!.e
    ? await sql<{ invariant: string; subject: string; detail: Record<string, unknown> }[]>`select invariant, subject, detail from public.fn_check_invariants()`
    : null;
  // The audit chain is fn_check_invariants' own 'audit_chain' rule, reported with its states.
  const chainBreaks = (rows ?? []).filter((r) => r.invariant === 'audit_chain')
    .map((r) => ({ sd_id: r.subject, audit_id: String(r.detail.audit_id), pre: r.detail.pre_state, previous_post: r.detail.previous_post_state }));
  const invariants = rows ? rows.filter((r) => r.invariant !== 'audit_chain').map(({ invariant, subject }) => ({ invariant, subject })) : null;
  return { tables, phases, completedAudits: n, chainBreaks, invariants };
}

export function compare(source: Snapshot, restored: Snapshot): string[] {
  const problems: string[] = [];
  for (const name of new Set([...Object.keys(source.tables), ...Object.keys(restored.tables)])) {
    const a = source.tables[name];
    const b = restored.tables[name];
    if (!a || !b) problems.push(`table ${name} exists only in the ${a ? 'source' : 'restored copy'}`);
    else if (a.rows !== b.rows) problems.push(`table ${name}: ${a.rows} rows in the source, ${b.rows} restored`);
    else if (a.md5 !== b.md5) problems.push(`table ${name}: same ${a.rows} rows, different content`);
  }
  if (source.phases.join() !== restored.phases.join()) problems.push(`distinct phases differ: ${source.phases.join(', ')} vs ${restored.phases.join(', ')}`);
  for (const [label, s] of [['source', source], ['restored copy', restored]] as const) {
    for (const v of s.invariants ?? []) problems.push(`invariant ${v.invariant} violated in the ${label}: ${v.subject}`);
    for (const b of s.chainBreaks) problems.push(`audit chain broken in the ${label}: ${b.sd_id} audit ${b.audit_id} starts at ${JSON.stringify(b.pre)} but the previous completed transition ended at ${JSON.stringify(b.previous_post)}`);
  }
  return problems;
}

export async function backupRestoreSmoke(sourceUrl: string, opts: { keep?: boolean; engine?: 'pg_dump' | 'copy'; log?: (l: string) => void } = {}) {
  const log = opts.log ?? ((l: string) => console.error(l));
  const source = postgres(sourceUrl, quiet);
  const target = `${new URL(sourceUrl).pathname.slice(1)}_restore_${Date.now().toString(36)}`.slice(0, 63);
  const targetUrl = withDatabase(sourceUrl, target);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stagegate-backup-'));
  try {
    const [{ v }] = (await source`select current_setting('server_version_num')::int / 10000 as v`) as unknown as [{ v: number }];
    const binDir = opts.engine === 'copy' ? undefined : findPgDump(v);
    if (opts.engine === 'pg_dump' && !binDir) throw new Error(`no pg_dump/pg_restore ${v} or newer found (set PG_BIN_DIR)`);
    const engine = binDir ? 'pg_dump' : 'copy';
    log(`backup: engine ${engine}${binDir ? ` (${binDir})` : ` (no pg_dump >= ${v} here)`}, into ${dir}`);
    const before = await snapshot(source);
    await createDatabase(withDatabase(sourceUrl, 'postgres'), target);
    if (binDir) {
      const file = path.join(dir, 'stagegate.dump');
      execFileSync(path.join(binDir, 'pg_dump'), ['-Fc', '--no-owner', '--schema=public', '--schema=supabase_migrations', '-f', file, sourceUrl]);
      await bootstrap(targetUrl);
      execFileSync(path.join(binDir, 'pg_restore'), ['--no-owner', '--exit-on-error', '-d', targetUrl, file]);
    } else {
      const t0 = performance.now();
      await dumpWithCopy(source, dir);
      log(`backup: dumped ${Object.keys(before.tables).length} tables in ${Math.round(performance.now() - t0)} ms`);
      await restoreWithCopy(targetUrl, dir, log);
    }
    log(`restore: done into ${target}`);
    const restoredSql = postgres(targetUrl, quiet);
    const after = await snapshot(restoredSql).finally(() => restoredSql.end({ timeout: 1 }));
    const problems = compare(before, after);
    const schemaDiff = await diffDatabases(sourceUrl, targetUrl);
    if (schemaDiff !== '') problems.push(`schema of the restored copy differs from the source's (supabase db diff, source -> copy):\n${schemaDiff}`);
    const report = {
      ok: problems.length === 0, engine, source: new URL(sourceUrl).pathname.slice(1), restored_into: target, kept: !!opts.keep,
      tables: Object.keys(before.tables).length, rows: Object.values(before.tables).reduce((s, t) => s + t.rows, 0),
      phases: before.phases, completed_audits: before.completedAudits, schema_same: schemaDiff === '', problems,
    };
    return report;
  } finally {
    await source.end({ timeout: 1 });
    if (!opts.keep) await dropDatabase(withDatabase(sourceUrl, 'postgres'), target).catch(() => {});
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname)) {
  const url = process.env.DATABASE_URL;
  const args = process.argv.slice(2);
  const engineArg = args.includes('--engine') ? args[args.indexOf('--engine') + 1] : undefined;
  if (!url || (engineArg && engineArg !== 'pg_dump' && engineArg !== 'copy')) {
    console.error('usage: DATABASE_URL=postgresql://… tsx scripts/backup-restore-smoke.ts [--keep] [--engine pg_dump|copy]');
    process.exit(2);
  }
  try {
    const report = await backupRestoreSmoke(url, { keep: args.includes('--keep'), engine: engineArg as 'pg_dump' | 'copy' | undefined });
    console.log(JSON.stringify(report, null, 2));
    process.exit(report.ok ? 0 : 1);
  } catch (err) {
    console.error(JSON.stringify({ ok: false, error: (err as Error).message }));
    process.exit(2);
  }
}
