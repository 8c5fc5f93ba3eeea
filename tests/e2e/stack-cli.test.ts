// `npm start` as a user runs it: the CLI process, its printed keys, the demo, Ctrl-C / SIGTERM.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../stack/db.ts';
import { freePort } from '../../stack/ports.ts';

const tsx = path.join(projectRoot, 'node_modules', '.bin', 'tsx');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stagegate-cli-'));
fs.chmodSync(dataDir, 0o755);
afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

function runCli(env: Record<string, string>, until: RegExp, timeoutMs = 60000) {
  const child = spawn(tsx, ['stack/cli.ts'], { cwd: projectRoot, env: { ...process.env, ...env, DATABASE_URL: '' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const matched = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${until}; output:\n${out}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (until.test(out)) { clearTimeout(timer); resolve(out); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then(() => { clearTimeout(timer); resolve(out); });
  });
  return { child, matched, exited, output: () => out };
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

describe('npm start (stack/cli.ts)', () => {
  it('runs the demo, prints the keys and a working command, and stops everything on SIGTERM', async () => {
    const apiPort = await freePort();
    const consolePort = await freePort();
    const run = runCli({ STAGEGATE_API_PORT: String(apiPort), STAGEGATE_DB_PORT: String(await freePort()), STAGEGATE_CONSOLE_PORT: String(consolePort), STAGEGATE_DATA_DIR: dataDir }, /Serving\. Press Ctrl-C/, 90000);
    const out = await run.matched;
    expect(out).toMatch(/ready in \d+\.\d\d s/);
    expect(out).toContain(`API URL: http://127.0.0.1:${apiPort}`);
    expect(out).toMatch(/service_role key: ey/);
    expect(out).toMatch(/ops webhook key: whsec_/);
    expect(out).toContain('Demo finished: every handoff was accepted, the LEAD\'s PLAN-only request was refused, and a planner\'s approval moved SD-DEMO-004.');
    expect(out).toMatch(/LEAD-TO-PLAN ⇒ HTTP 202 awaiting_approval[\s\S]*approve ⇒ HTTP 403 SELF_APPROVAL[\s\S]*approve ⇒ HTTP 200 ACCEPTED: LEAD → PLAN/);
    for (const t of ['LEAD-TO-PLAN', 'PLAN-TO-EXEC', 'EXEC-TO-PLAN', 'PLAN-TO-LEAD']) expect(out).toContain(t);
    // The printed curl really works.
    const key = /service_role key: (\S+)/.exec(out)![1]!;
    const health = await fetch(`http://127.0.0.1:${apiPort}/functions/v1/health`, { headers: { authorization: `Bearer ${key}` } });
    expect(health.status).toBe(200);
    // The console is served, pointed at this stack's functions, offering the demo identities
    // because the stack signs with the well-known local secret.
    expect(out).toContain(`Console URL: http://127.0.0.1:${consolePort}`);
    const page = await fetch(`http://127.0.0.1:${consolePort}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'self'/);
    expect(await page.text()).toMatch(/<script type="module"[^>]* src="\.\/assets\/index-[\w-]+\.js"/);
    const consoleConfig = await (await fetch(`http://127.0.0.1:${consolePort}/config.json`)).json() as { apiUrl: string; demoUsers: { token: string }[] };
    expect(consoleConfig.apiUrl).toBe(`http://127.0.0.1:${apiPort}`);
    expect(consoleConfig.demoUsers.map((u) => u.token)).toContain(key);
    // A token per demo user; the printed pair of curls as the LEAD: accepted, then 403 for a PLAN-only handoff.
    for (const role of ['LEAD', 'PLAN', 'EXEC', 'VIEWER']) expect(out).toMatch(new RegExp(`@demo\\.stagegate\\s+${role}\\s+of demo-\\w+: ey`));
    expect(out).toMatch(/PLAN-TO-EXEC of SD-DEMO-002 ⇒ HTTP 403 ROLE_NOT_ALLOWED/);
    const lead = /lead@demo\.stagegate\s+LEAD\s+of demo-platform: (\S+)/.exec(out)![1]!;
    const asLead = (type: string) => fetch(`http://127.0.0.1:${apiPort}/functions/v1/handoff`, {
      method: 'POST', headers: { authorization: `Bearer ${lead}`, 'content-type': 'application/json' },
      body: JSON.stringify({ sd_id: 'SD-DEMO-002', handoff_type: type, session_id: 'my-session' }),
    }).then(async (r) => ({ status: r.status, body: await r.json() as { verdict?: string; error?: { code: string } } }));
    expect(await asLead('lead-to-plan')).toMatchObject({ status: 200, body: { verdict: 'accepted' } });
    expect(await asLead('plan-to-exec')).toMatchObject({ status: 403, body: { error: { code: 'ROLE_NOT_ALLOWED' } } });
    const pgPid = Number(fs.readFileSync(path.join(dataDir, 'pgdata', 'postmaster.pid'), 'utf8').split('\n')[0]);
    expect(alive(pgPid)).toBe(true);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(alive(pgPid)).toBe(false);
    await expect(fetch(`http://127.0.0.1:${apiPort}/functions/v1/health`)).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${consolePort}/`)).rejects.toThrow();
  }, 150000); // a cold start plus the demo, on a busy machine (the wait above allows 90 s)

  it('answers a bad setting with one structured JSON error and exit 1', async () => {
    const run = runCli({ STAGEGATE_API_PORT: 'eighty' }, /INVALID_CONFIG/);
    expect(await run.exited).toBe(1);
    const line = run.output().trim().split('\n').find((l) => l.startsWith('{'))!;
    expect(JSON.parse(line)).toMatchObject({ error: { code: 'INVALID_CONFIG', details: [{ variable: 'STAGEGATE_API_PORT' }] } });
  });

  it('names the port and the variable when the API port is taken', async () => {
    const port = await freePort();
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
    try {
      const run = runCli({ STAGEGATE_API_PORT: String(port), STAGEGATE_CONSOLE_PORT: String(await freePort()), STAGEGATE_DATA_DIR: dataDir }, /PORT_IN_USE/);
      expect(await run.exited).toBe(1);
      expect(run.output()).toContain(`port ${port} is already in use: stop what holds it or set STAGEGATE_API_PORT to another port`);
    } finally {
      blocker.close();
    }
  });
});
