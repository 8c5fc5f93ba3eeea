// Deploying to hosted Supabase, proven without a network and without Docker: the bash block of
// the README's "Deploying to hosted Supabase" runs as written, with the real Supabase CLI, against
//  - a fresh database holding only what a new hosted project has (stack/bootstrap.sql's roles and
//    schemas): `db push --db-url` must apply every migration and `migration list` show them;
//  - a local stand-in for the Management API (tests/helpers/management-api.ts) that keeps what
//    `functions deploy --use-api` uploads and what `secrets set` sends.
// Then every function is rebuilt from its uploaded files alone, in an empty folder with the
// uploaded import map (no node_modules, no package.json, no project config), type-checked and
// started by Deno, which fetches the npm packages itself, and must answer.
// tests/e2e/deploy-check-fails.test.ts shows the same check failing where hosted would fail.
import fs from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { bootstrap, createDatabase, dropDatabase, projectRoot, withDatabase } from '../../stack/db.ts';
import { discoverFunctions } from '../../stack/functions.ts';
import { localKeys } from '../../stack/stack.ts';
import { bash, denoCheck, rebuild, startRebuilt, type Result } from '../helpers/deploy.ts';
import { startManagementApi, type ManagementApi } from '../helpers/management-api.ts';

const readme = fs.readFileSync(path.join(projectRoot, 'README.md'), 'utf8');
const section = /^## Deploying to hosted Supabase\n([\s\S]*?)(?=^## )/m.exec(readme)?.[1] ?? '';
const readmeBlocks = [...section.matchAll(/^```bash\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
const migrations = fs.readdirSync(path.join(projectRoot, 'supabase', 'migrations')).filter((f) => f.endsWith('.sql')).sort();
const versions = migrations.map((f) => f.split('_')[0]!);
const JWT_SECRET = 'deploy-check-secret-that-is-at-least-32-characters';
const SIGNING = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
const OPS = `whsec_${Buffer.alloc(32, 9).toString('base64')}`;
const LONG = 240000;

describe('README "Deploying to hosted Supabase", run as written', () => {
  let api: ManagementApi;
  let adminUrl: string;
  let dbName: string;
  let dbUrl: string;
  let run: Result;

  beforeAll(async () => {
    api = await startManagementApi();
    adminUrl = inject('adminUrl');
    dbName = `deploy_${process.pid}_${Date.now().toString(36)}`;
    // A new hosted project's database: the bootstrap's roles and schemas, no migration yet.
    await createDatabase(adminUrl, dbName);
    await bootstrap(withDatabase(adminUrl, dbName));
    const u = new URL(withDatabase(adminUrl, dbName));
    u.searchParams.set('sslmode', 'disable');
    dbUrl = u.toString();
    run = await bash(readmeBlocks[0] ?? 'false', projectRoot, {
      ...api.env, PROJECT_REF: api.ref, DB_URL: dbUrl, JWT_SECRET, SUBAGENT_SIGNING_SECRET: SIGNING, OPS_WEBHOOK_SECRETS: OPS,
    });
  }, LONG);

  afterAll(async () => {
    await api?.stop();
    if (dbName) await dropDatabase(adminUrl, dbName);
  });

  it('has one bash block, and it ran without an error', () => {
    expect(readmeBlocks).toHaveLength(1);
    expect(run.output).not.toMatch(/^(WARN(ING)?:|Try rerunning)/m);
    expect(run.code, run.output).toBe(0);
  });

  it('db push applied every migration and migration list shows each one, local and remote', async () => {
    const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
    try {
      const applied = await sql<{ version: string }[]>`select version from supabase_migrations.schema_migrations order by version`;
      expect(applied.map((r) => r.version)).toEqual(versions);
    } finally {
      await sql.end({ timeout: 1 });
    }
    for (const v of versions) expect(run.output).toMatch(new RegExp(`^\\s*\`?${v}\`?\\s*\\|\\s*\`?${v}\`?\\s*\\|`, 'm'));
  });

  it('deployed every function with supabase/functions/deno.json uploaded as its import map', () => {
    expect(api.unexpected).toEqual([]);
    const expected = discoverFunctions(projectRoot);
    expect([...api.deployments.keys()].sort()).toEqual(expected.map((f) => f.name));
    for (const fn of expected) {
      const d = api.deployments.get(fn.name)!;
      expect(d.metadata).toMatchObject({ entrypoint_path: `supabase/functions/${fn.name}/index.ts`, import_map_path: 'supabase/functions/deno.json', verify_jwt: fn.verifyJwt });
      expect(d.files.get('supabase/functions/deno.json')).toBe(fs.readFileSync(path.join(projectRoot, 'supabase/functions/deno.json'), 'utf8'));
      // Nothing outside the project's function code is uploaded (no node_modules, no root config).
      for (const file of d.files.keys()) expect(file).toMatch(/^(supabase\/functions\/|shared\/)[\w/.-]+\.(ts|json)$/);
    }
    expect(api.bulkUpdates).toHaveLength(1);
  });

  it('set the secrets', () => {
    expect(Object.fromEntries(api.secrets)).toEqual({
      STAGEGATE_JWT_SECRET: JWT_SECRET, STAGEGATE_JWT_ISSUER: `https://${api.ref}.supabase.co/auth/v1,supabase`,
      SUBAGENT_SIGNING_SECRET: SIGNING, OPS_WEBHOOK_SECRETS: OPS,
    });
  });

  // What each function answers: health reports the pushed database, metrics, directives and
  // operations read it with the service-role key, handoff and ops-webhook refuse a caller without credentials (their own auth,
  // not the gateway's: no gateway runs here).
  const probes: Record<string, { method: string; auth: boolean; status: number; text: (t: string) => void }> = {
    // deployed without its secrets: it says which are missing, after checking the service role
    'approval-webhooks': { method: 'POST', auth: true, status: 503, text: (t) => expect(JSON.parse(t)).toMatchObject({ error: { code: 'WEBHOOK_NOT_CONFIGURED' } }) },
    directives: { method: 'GET', auth: true, status: 200, text: (t) => expect(JSON.parse(t)).toMatchObject({ items: expect.any(Array), counts: expect.any(Object) }) },
    health: { method: 'GET', auth: false, status: 200, text: (t) => expect(JSON.parse(t)).toMatchObject({ status: 'ok', migration: { version: versions.at(-1) } }) },
    handoff: { method: 'POST', auth: false, status: 401, text: (t) => expect(JSON.parse(t)).toMatchObject({ error: { code: 'UNAUTHORIZED' } }) },
    metrics: { method: 'GET', auth: true, status: 200, text: (t) => expect(t).toMatch(/^stagegate_\w+/m) },
    operations: { method: 'GET', auth: true, status: 200, text: (t) => expect(JSON.parse(t)).toMatchObject({ modes: expect.any(Array), breakers: expect.any(Array) }) },
    'ops-webhook': { method: 'POST', auth: false, status: 401, text: (t) => expect(JSON.parse(t)).toMatchObject({ error: { code: expect.any(String) } }) },
  };

  it('has a probe for every function', () => {
    expect(Object.keys(probes).sort()).toEqual(discoverFunctions(projectRoot).map((f) => f.name));
  });

  for (const [name, probe] of Object.entries(probes)) {
    it(`${name}: rebuilt from its uploaded files alone, deno check passes, it starts and answers ${probe.status}`, async () => {
      const d = api.deployments.get(name);
      expect(d, `${name} was deployed`).toBeDefined();
      const fn = rebuild(d!);
      expect(fs.readdirSync(fn.dir).sort()).toEqual(['shared', 'supabase']);
      const check = await denoCheck(fn);
      expect(check.code, check.output).toBe(0);
      const [anonKey, serviceRoleKey] = await localKeys(JWT_SECRET);
      const server = await startRebuilt(fn, {
        SUPABASE_URL: 'http://127.0.0.1:9', SUPABASE_ANON_KEY: anonKey, SUPABASE_SERVICE_ROLE_KEY: serviceRoleKey,
        SUPABASE_DB_URL: dbUrl, STAGEGATE_JWT_SECRET: JWT_SECRET, SUBAGENT_SIGNING_SECRET: SIGNING, OPS_WEBHOOK_SECRETS: OPS,
      });
      try {
        const res = await fetch(`${server.url}/${name}`, {
          method: probe.method,
          headers: { 'content-type': 'application/json', ...(probe.auth ? { authorization: `Bearer ${serviceRoleKey}` } : {}) },
          body: probe.method === 'POST' ? '{}' : undefined,
        });
        const text = await res.text();
        expect(res.status, `${text}\n${server.tail()}`).toBe(probe.status);
        probe.text(text);
      } finally {
        await server.stop();
      }
    }, LONG);
  }
});
