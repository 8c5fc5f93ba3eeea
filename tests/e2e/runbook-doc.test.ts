// docs/runbook.md cannot rot: every `sql runbook` and `bash runbook` block runs, in document
// order, against a database with handoffs in it and a real functions server; `bash runbook-serve`
// blocks start, serve and stop; `hosted-only` blocks are counted, so a new one is a conscious
// change; every alert in the Prometheus rules has its section, and every link lands on a heading.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../stack/db.ts';
import { freePort } from '../../stack/ports.ts';
import { freshDatabase, type FreshDatabase } from '../helpers/db.ts';
import { seedDirective } from '../helpers/fixtures.ts';
import { startTestFunctions, type TestFunctions } from '../helpers/functions.ts';

const doc = fs.readFileSync(path.join(projectRoot, 'docs/runbook.md'), 'utf8');
const rulesFile = path.join(projectRoot, 'observability/prometheus/rules/stagegate.yml');

interface Block { lang: string; tag: string; body: string; line: number }
const blocks: Block[] = [...doc.matchAll(/^```(\w*)[ \t]*([\w-]*)\n([\s\S]*?)^```$/gm)].map((m) => ({
  lang: m[1]!, tag: m[2]!, body: m[3]!, line: doc.slice(0, m.index).split('\n').length,
}));
const slug = (heading: string) => heading.trim().toLowerCase().replace(/[^a-z0-9 _-]/g, '').replace(/ /g, '-');
const anchors = new Set([...doc.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!)));

async function sh(script: string, env: Record<string, string>, timeoutMs = 120000): Promise<{ code: number | null; out: string }> {
  return await new Promise((resolve) => {
    const child = spawn('bash', ['-eo', 'pipefail', '-c', script], { cwd: projectRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const timer = setTimeout(() => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ } }, timeoutMs);
    child.on('exit', (code) => { clearTimeout(timer); resolve({ code, out }); });
  });
}

describe('docs/runbook.md: structure', () => {
  it('tags every code block: runbook, runbook-serve or hosted-only', () => {
    expect(blocks.length).toBeGreaterThan(20);
    for (const b of blocks) expect([`${b.lang} ${b.tag}`, b.line]).toEqual([expect.stringMatching(/^(sql|bash) (runbook|runbook-serve|hosted-only)$/), b.line]);
  });

  it('counts the hosted-only blocks (none is skipped silently) and runs everything else', () => {
    const hosted = blocks.filter((b) => b.tag === 'hosted-only');
    expect(hosted.map((b) => `${b.lang}: ${b.body.split('\n')[0]}`)).toEqual([
      'bash: supabase link --project-ref "$PROJECT_REF"',
      "sql: select vault.create_secret('<service-role key>', 'stagegate_service_role_key', 'stagegate: handoff_requests dispatch');",
      "bash: supabase secrets set STAGEGATE_APPROVAL_WEBHOOK_URL='https://bot.example/hooks/approvals' STAGEGATE_APPROVAL_WEBHOOK_SECRET=\"$APPROVAL_WEBHOOK_SECRET\"",
      'sql: update public.handoff_request_dispatch set approval_webhooks = true;',
      "sql: select jobname, schedule, command, active from cron.job where jobname like 'stagegate\\_%' order by jobname;",
      'bash: pg_dump "$DATABASE_URL" -t public.sd_transition_audit_y2025m01 -t public.sd_phase_handoffs_y2025m01 -Fc -f audit-2025-01.dump',
      'bash: supabase functions deploy',
      "sql: delete from supabase_migrations.schema_migrations where version >= '20261125000000';",
    ]);
    expect(blocks.filter((b) => b.tag === 'runbook').length).toBeGreaterThanOrEqual(20);
  });

  it('has a section for every alert, at the anchor its runbook_url names, and every link lands', () => {
    const rules = fs.readFileSync(rulesFile, 'utf8');
    const alerts = [...rules.matchAll(/- alert: (\w+)/g)].map((m) => m[1]!);
    expect(alerts.length).toBeGreaterThanOrEqual(7);
    for (const alert of alerts) expect(anchors, `section for ${alert}`).toContain(alert.toLowerCase());
    for (const [, anchor] of rules.matchAll(/runbook_url: docs\/runbook\.md#(\S+)/g)) expect(anchors).toContain(anchor);
    for (const [, anchor] of doc.matchAll(/\]\(#([^)]+)\)/g)) expect(anchors, `link #${anchor}`).toContain(anchor);
  });
});

describe('docs/runbook.md: every runnable block', () => {
  let db: FreshDatabase;
  let fns: TestFunctions;
  let dataDir: string;
  beforeAll(async () => {
    db = await freshDatabase();
    fns = await startTestFunctions(db.url);
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stagegate-runbook-'));
    // A database that has seen work: 24 accepted handoffs in the canary window (so the promotion
    // gate can pass), an attempt abandoned by the sweep, a claim, idempotency records.
    const gates = [{ code: 'STORIES_DONE', passed: true, score: 100, maxScore: 100, issues: [], warnings: [] }];
    for (let i = 1; i <= 24; i++) {
      const id = `SD-RUNBOOK-${i}`;
      await seedDirective(db.sql, { id, phase: 'EXEC' });
      await db.sql`select public.fn_execute_handoff(${id}, 'EXEC-TO-PLAN', 'runbook', ${`rb-${i}`}, ${db.sql.json(gates)})`;
    }
    await seedDirective(db.sql, { id: 'SD-RUNBOOK-STUCK', phase: 'EXEC' });
    await seedDirective(db.sql, { id: 'SD-RUNBOOK-NEXT', phase: 'EXEC' });
    await db.sql`select public.fn_begin_handoff('SD-RUNBOOK-STUCK', 'EXEC-TO-PLAN', 'runbook', 'rb-stuck')`;
    await db.sql`update public.handoff_attempts set started_at = now() - interval '1 hour' where request_id = 'rb-stuck'`;
    await db.sql`select public.fn_idempotency_begin('handoff:runbook', 'k', ${'c'.repeat(64)})`;
  });
  afterAll(async () => {
    await fns?.stop();
    await db?.drop();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  // What the blocks before the rollback did: the smoke handoff, the request, the promotion.
  async function blocksDidWhatTheySay() {
    const [audit] = await db.sql`select status from sd_transition_audit where sd_id = 'SD-TEST-ATOMIC-001'`;
    expect(audit?.status).toBe('completed');
    const [request] = await db.sql`select sd_id, status from public.handoff_requests where session_id = 'runbook'`;
    expect(request).toMatchObject({ status: 'pending' });
    const [abandoned] = await db.sql`select status from public.handoff_attempts where request_id = 'rb-stuck'`;
    expect(abandoned!.status).toBe('abandoned');
    const changes = await db.sql`select new_mode, forced from public.validation_mode_changes order by id`;
    expect(changes.map((c) => `${c.new_mode}${c.forced ? ' (forced)' : ''}`)).toEqual(['WARN', 'ENFORCE', 'WARN', 'ENFORCE']);
  }

  it('runs every sql runbook and bash runbook block in order', async () => {
    const env = {
      ...process.env, DATABASE_URL: db.url, STAGEGATE_FUNCTIONS_URL: fns.functionsUrl,
      SUPABASE_SERVICE_ROLE_KEY: fns.serviceRoleKey, STAGEGATE_DATA_DIR: dataDir,
    } as Record<string, string>;
    const ran: string[] = [];
    const runnable = blocks.filter((x) => x.tag === 'runbook');
    for (const b of runnable) {
      const where = `docs/runbook.md:${b.line}`;
      if (b.body.includes('supabase/down/down.sql')) await blocksDidWhatTheySay();
      const t0 = Date.now();
      if (b.lang === 'sql') {
        await db.sql.unsafe(b.body).catch((err: Error) => { throw new Error(`${where}: ${err.message}`); });
      } else {
        const r = await sh(b.body, env);
        expect(r.code, `${where} exited ${r.code}:\n${r.out}`).toBe(0);
      }
      ran.push(where);
      if (process.env.STAGEGATE_VERBOSE) console.log(`[runbook] ${where} ${b.lang} ${Date.now() - t0} ms`);
    }
    expect(ran.length).toBe(runnable.length);
    // the rollback block, last, removed the core
    const [core] = await db.sql`select to_regclass('public.strategic_directives_v2') as t`;
    expect(core!.t).toBeNull();
  }, 240000);

  it('starts the local stack with the runbook-serve block, then stops it cleanly', async () => {
    const serve = blocks.filter((b) => b.tag === 'runbook-serve');
    expect(serve.map((b) => b.body.trim())).toEqual(['npm start']);
    const env = { ...process.env, STAGEGATE_API_PORT: String(await freePort()), STAGEGATE_DB_PORT: String(await freePort()), STAGEGATE_CONSOLE_PORT: String(await freePort()),
      STAGEGATE_DATA_DIR: fs.mkdtempSync(path.join(os.tmpdir(), 'stagegate-serve-')), STAGEGATE_DEMO: 'off' } as Record<string, string>;
    delete env.DATABASE_URL;
    const child = spawn('bash', ['-c', serve[0]!.body], { cwd: projectRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const deadline = Date.now() + 90000;
      while (!out.includes('Serving.') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(out).toContain('Serving.');
      expect(out).toContain('scheduler started');
      expect(out).toContain('handoff request consumer started');
      process.kill(-child.pid!, 'SIGTERM');
      await exited;
      // npm may exit before the stack has finished stopping: wait for PostgreSQL to remove its
      // pid file (a clean shutdown) instead of killing what is still stopping. The stop closes
      // the pools, the consumer and the scheduler first and then asks PostgreSQL for a fast
      // shutdown, which waits for no client: seconds, even with both cores busy.
      const pidFile = path.join(env.STAGEGATE_DATA_DIR!, 'pgdata', 'postmaster.pid');
      const stopBy = Date.now() + 15000;
      while (fs.existsSync(pidFile) && Date.now() < stopBy) await new Promise((r) => setTimeout(r, 100));
      expect(fs.existsSync(pidFile)).toBe(false);
      expect(out).toMatch(/SIGTERM: stopping the functions server and PostgreSQL/);
      expect(fs.readFileSync(path.join(env.STAGEGATE_DATA_DIR!, 'postgres.log'), 'utf8')).toMatch(/database system is shut down\s*$/);
    } finally {
      try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* gone */ }
      fs.rmSync(env.STAGEGATE_DATA_DIR!, { recursive: true, force: true });
    }
  }, 150000);
});
