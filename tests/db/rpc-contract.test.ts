// The health function's pre-flight probe (shared/rpc-contract.ts REQUIRED_RPCS) covers every RPC
// that someone is told to call: derived here from the text of the README, the runbook, the edge
// functions, shared/ and the local stack, so a newly documented or called RPC cannot be left out.
// And every listed signature matches the migrated database, so the list cannot drift from SQL.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../stack/db.ts';
import { missingRpcs, REQUIRED_RPCS } from '../../shared/rpc-contract.ts';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';

let db: FreshDatabase;
beforeAll(async () => { db = await freshDatabase(); });
afterAll(async () => { await db?.drop(); });

function files(rel: string): string[] {
  const full = path.join(projectRoot, rel);
  if (fs.statSync(full).isFile()) return [full];
  return fs.readdirSync(full, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile() && /\.(ts|md)$/.test(d.name))
    .map((d) => path.join(d.parentPath, d.name));
}

/** Every fn_… (and the seeds' normalize_stage) called in the docs and the code: a name followed by `(`. */
function rpcNamesInSources(): Map<string, string> {
  const found = new Map<string, string>();
  const sources = ['README.md', 'docs', 'supabase/functions', 'shared', 'stack'].flatMap(files);
  for (const file of sources) {
    const text = fs.readFileSync(file, 'utf8');
    // A call (`fn_x(…)`, `public.fn_x (`), not a mention: the README's file table names internal
    // helpers such as the verdict rule, which nobody is told to call.
    for (const m of text.matchAll(/\b(fn_[a-z0-9_]*[a-z0-9]|normalize_stage)\s*\(/g)) {
      if (!found.has(m[1]!)) found.set(m[1]!, path.relative(projectRoot, file));
    }
  }
  return found;
}

describe('the pre-flight probe\'s list of RPCs', () => {
  it('names every RPC the README, the runbook, the functions, shared/ or the stack call or tell a user to call', () => {
    const listed = new Set(REQUIRED_RPCS.map((r) => r.name));
    const unlisted = [...rpcNamesInSources()].filter(([name]) => !listed.has(name)).map(([name, file]) => `${name} (${file})`);
    expect(unlisted).toEqual([]);
  });

  it('covers normalize_stage and the four fn_atomic_* transitions', () => {
    const listed = REQUIRED_RPCS.map((r) => r.name);
    expect(listed).toEqual(expect.arrayContaining(['normalize_stage',
      'fn_atomic_lead_to_plan_transition', 'fn_atomic_plan_to_exec_transition', 'fn_atomic_exec_to_plan_transition', 'fn_atomic_plan_to_lead_transition']));
  });

  it('matches the migrated database, signature by signature (nothing missing, nothing listed twice)', async () => {
    const probe = await db.sql<{ name: string; args: string }[]>`
      select p.proname as name, pg_catalog.pg_get_function_identity_arguments(p.oid) as args
      from pg_catalog.pg_proc p join pg_catalog.pg_namespace n on n.oid = p.pronamespace
      where n.nspname = 'public' and p.proname = any(${REQUIRED_RPCS.map((r) => r.name)})`;
    expect({ missing: missingRpcs(probe), found: probe.filter((p) => !REQUIRED_RPCS.some((r) => r.name === p.name)) })
      .toEqual({ missing: [], found: [] });
    expect(new Set(REQUIRED_RPCS.map((r) => `${r.name}(${r.args})`)).size).toBe(REQUIRED_RPCS.length);
  });
});
