// Stopping `npm start` at any moment (issue 12): SIGTERM during start-up, during the migrations,
// during the demo and while serving; SIGKILL of the CLI; an uncaught error in the CLI; and a start
// after a crash that left a stale postmaster.pid or an orphaned PostgreSQL behind. Each time,
// within 15 s nothing listens on the stack's ports, PostgreSQL's log shows a clean shutdown, and
// the next start (same data folder) works. The CLI runs as `node --import tsx stack/cli.ts`, so
// the pid we signal is the CLI itself, as a user's kill or an OOM kill would hit it.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../stack/db.ts';
import { freePort } from '../../stack/ports.ts';

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stagegate-stop-'));
fs.chmodSync(dataDir, 0o755);
const logFile = path.join(dataDir, 'postgres.log');
const crashHook = path.join(dataDir, 'crash-after-serving.mjs');
// An uncaught error thrown inside the CLI once it serves (loaded with --import; no hook in the CLI).
fs.writeFileSync(crashHook, `
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = (chunk, ...rest) => {
  const r = write(chunk, ...rest);
  if (String(chunk).includes('Serving.')) setTimeout(() => { throw new Error('injected crash'); }, 10);
  return r;
};
`);
const leftovers: number[] = [];
afterAll(() => {
  for (const pid of leftovers) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  fs.rmSync(dataDir, { recursive: true, force: true });
});

interface Run { pid: number; ports: number[]; exited: Promise<number | null>; output: () => string; waitFor: (re: RegExp, ms?: number) => Promise<void> }

async function startCli(extra: Record<string, string> = {}, nodeArgs: string[] = []): Promise<Run> {
  const ports = [Number(extra.STAGEGATE_API_PORT ?? await freePort()), Number(extra.STAGEGATE_DB_PORT ?? await freePort()), Number(extra.STAGEGATE_CONSOLE_PORT ?? await freePort())];
  const env = { ...process.env, STAGEGATE_API_PORT: String(ports[0]), STAGEGATE_DB_PORT: String(ports[1]), STAGEGATE_CONSOLE_PORT: String(ports[2]), STAGEGATE_DATA_DIR: dataDir, DATABASE_URL: '', ...extra };
  const child = spawn(process.execPath, ['--import', 'tsx', ...nodeArgs, 'stack/cli.ts'], { cwd: projectRoot, env, stdio: ['ignore', 'pipe', 'pipe'] });
  leftovers.push(child.pid!);
  let out = '';
  const waiters: { re: RegExp; resolve: () => void }[] = [];
  const onData = (chunk: Buffer) => {
    out += chunk.toString();
    for (const w of [...waiters]) if (w.re.test(out)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(); }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    pid: child.pid!,
    ports,
    exited,
    output: () => out,
    waitFor: (re, ms = 90000) => new Promise<void>((resolve, reject) => {
      if (re.test(out)) return resolve();
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}; output:\n${out}`)), ms);
      waiters.push({ re, resolve: () => { clearTimeout(timer); resolve(); } });
      void exited.then(() => setTimeout(() => { clearTimeout(timer); if (re.test(out)) resolve(); else reject(new Error(`exited before ${re}; output:\n${out}`)); }, 50));
    }),
  };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}

/** Within 15 s: nothing listens on the ports and no process of ours runs on the data folder. */
async function expectAllStopped(run: Run) {
  const deadline = Date.now() + 15000;
  let open: number[] = [];
  let servers = '';
  while (Date.now() < deadline) {
    open = [];
    for (const p of run.ports) if (await listening(p)) open.push(p);
    servers = spawnSync('pgrep', ['-af', `${dataDir}/pgdata`]).stdout.toString().trim();
    if (open.length === 0 && servers === '') break;
    await new Promise((r) => setTimeout(r, 200));
  }
  expect(open, `ports still listening; output:\n${run.output()}`).toEqual([]);
  expect(servers, 'PostgreSQL still running').toBe('');
}

/** PostgreSQL's log since the last start: it shut down cleanly (or never got going). */
function expectCleanShutdown() {
  const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '';
  const lastRun = log.slice(log.lastIndexOf('--- '));
  if (lastRun.includes('database system is ready')) expect(lastRun, lastRun).toMatch(/database system is shut down\s*$/);
  expect(lastRun).not.toMatch(/PANIC|terminated by signal 9/);
}

function expectNoStackTrace(out: string) {
  expect(out).not.toMatch(/TypeError|fetch failed|^\s+at .+:\d+:\d+\)?$/m);
}

describe('npm start stops cleanly from every state', () => {
  it('SIGTERM during start-up (while PostgreSQL starts): exit 0, nothing left running', async () => {
    const run = await startCli({ STAGEGATE_DEMO: 'off' });
    await run.waitFor(/Starting PostgreSQL/);
    process.kill(run.pid, 'SIGTERM');
    expect(await run.exited).toBe(0);
    await expectAllStopped(run);
    expectCleanShutdown();
    expectNoStackTrace(run.output());
    expect(run.output()).not.toContain('Applying migrations');
  }, 120000);

  it('SIGTERM during the migrations: the migration CLI is stopped too, and the next start finishes them', async () => {
    const run = await startCli({ STAGEGATE_DEMO: 'off' });
    await run.waitFor(/Applying migrations/);
    process.kill(run.pid, 'SIGTERM');
    expect(await run.exited).toBe(0);
    await expectAllStopped(run);
    expectCleanShutdown();
    expect(spawnSync('pgrep', ['-f', `migration up --db-url [^ ]*@127\\.0\\.0\\.1:${run.ports[1]}/`]).stdout.toString().trim()).toBe('');
    expectNoStackTrace(run.output());
    expect(run.output()).not.toContain('Starting the functions server');
  }, 120000);

  it('SIGTERM during the demo: no fetch-failed stack trace, exit 0, nothing left running', async () => {
    const run = await startCli();
    await run.waitFor(/ARCH_REVIEW started/);
    process.kill(run.pid, 'SIGTERM');
    expect(await run.exited).toBe(0);
    await expectAllStopped(run);
    expectCleanShutdown();
    expectNoStackTrace(run.output());
    expect(run.output()).toMatch(/SIGTERM: stopping the functions server and PostgreSQL/);
    expect(run.output()).not.toContain('Demo finished');
  }, 120000);

  it('SIGKILL of the CLI while serving: its watchdogs stop PostgreSQL (fast, clean) and the functions server', async () => {
    const run = await startCli({ STAGEGATE_DEMO: 'off' });
    await run.waitFor(/Serving\./);
    expect(await listening(run.ports[1]!)).toBe(true);
    process.kill(run.pid, 'SIGKILL');
    await run.exited;
    await expectAllStopped(run);
    expectCleanShutdown();
  }, 120000);

  it('an uncaught error in the CLI: one JSON line, the stack stopped, exit 1', async () => {
    const run = await startCli({ STAGEGATE_DEMO: 'off' }, ['--import', crashHook]);
    await run.waitFor(/Serving\./);
    expect(await run.exited).toBe(1);
    expect(run.output()).toMatch(/\{"error":\{"code":"STACK_CRASHED","message":"injected crash"\}\}/);
    await expectAllStopped(run);
    expectCleanShutdown();
  }, 120000);

  it('recovers a stale postmaster.pid (its pid now another process) and an orphaned server of an earlier run', async () => {
    const pidFile = path.join(dataDir, 'pgdata', 'postmaster.pid');
    // A crash left the pid file; the pid has since been given to a process that is not postgres.
    // PostgreSQL alone refuses to start ("lock file already exists").
    const sleeper = spawn('sleep', ['60']);
    leftovers.push(sleeper.pid!);
    fs.writeFileSync(pidFile, `${sleeper.pid}\n${path.join(dataDir, 'pgdata')}\n1700000000\n5432\n`);
    let run = await startCli({ STAGEGATE_DEMO: 'off' });
    await run.waitFor(/Serving\.|STACK_START_FAILED/);
    expect(run.output()).toMatch(/Recovered: removed a stale .*postmaster\.pid \(pid \d+ is now another process\)/);
    expect(run.output()).toContain('Serving.');
    sleeper.kill('SIGKILL');

    // An orphan: this run's PostgreSQL outlives its CLI and its watchdog (as after a kill -9 of
    // the whole process tree but the server). The next start stops it (fast) and starts afresh.
    const pg = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
    for (const line of spawnSync('pgrep', ['-f', `kill -s INT -- -${pg}`]).stdout.toString().trim().split('\n').filter(Boolean)) {
      process.kill(Number(line), 'SIGKILL');
    }
    process.kill(run.pid, 'SIGKILL');
    await run.exited;
    await new Promise((r) => setTimeout(r, 500));
    expect(await listening(run.ports[1]!)).toBe(true); // the orphan still holds its port
    run = await startCli({ STAGEGATE_DEMO: 'off', STAGEGATE_DB_PORT: String(run.ports[1]) });
    await run.waitFor(/Serving\.|STACK_START_FAILED|PORT_IN_USE/);
    expect(run.output()).toMatch(new RegExp(`Recovered: stopped PostgreSQL \\(pid ${pg}\\) left running`));
    expect(run.output()).toContain('Serving.');
    const key = /service_role key: (\S+)/.exec(run.output())![1]!;
    const health = await fetch(`http://127.0.0.1:${run.ports[0]}/functions/v1/health`, { headers: { authorization: `Bearer ${key}` } });
    expect(health.status).toBe(200);
    process.kill(run.pid, 'SIGTERM');
    expect(await run.exited).toBe(0);
    await expectAllStopped(run);
    expectCleanShutdown();
  }, 180000);
});
