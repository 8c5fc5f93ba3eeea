// First run as root in a home folder (issue 12): a checkout inside a mode-700 folder, like /root,
// is out of the postgres user's reach, so <checkout>/.stagegate cannot hold the database. `npm
// start` then picks a data folder the postgres user can reach, the same one on every start of that
// checkout, prints it, and `npm run reset` finds and removes it. STAGEGATE_DATA_DIR still wins.
// Runs for real: a copy of the repository (its files as the working tree has them) in a fresh
// mode-700 folder, started as root (as here and in CI). As any other user there is nothing to test.
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../stack/db.ts';
import { freePort } from '../../stack/ports.ts';

const asRoot = process.getuid?.() === 0;
if (!asRoot) console.warn('[stack-root-home] skipped: only root runs PostgreSQL as another user (the postgres user)');

let home: string;
let checkout: string;
const created: string[] = [];

beforeAll(() => {
  if (!asRoot) return;
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'stagegate-roothome-'));
  fs.chmodSync(home, 0o700);
  checkout = path.join(home, 'stagegate');
  fs.mkdirSync(checkout);
  // Tracked and new files as they are in the working tree; node_modules shared (a symlink).
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: projectRoot }).toString().split('\0')
    .filter((f) => f && !f.startsWith('node_modules/') && fs.existsSync(path.join(projectRoot, f)));
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(checkout, f)), { recursive: true });
    fs.copyFileSync(path.join(projectRoot, f), path.join(checkout, f));
  }
  fs.symlinkSync(path.join(projectRoot, 'node_modules'), path.join(checkout, 'node_modules'));
});
afterAll(() => {
  for (const dir of created) fs.rmSync(dir, { recursive: true, force: true });
  if (home) fs.rmSync(home, { recursive: true, force: true });
});

function run(script: string, env: Record<string, string>, until: RegExp) {
  const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: checkout, env: { ...process.env, DATABASE_URL: '', STAGEGATE_DATA_DIR: '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const matched = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${until}; output:\n${out}`)), 90000);
    const onData = (chunk: Buffer) => { out += chunk.toString(); if (until.test(out)) { clearTimeout(timer); resolve(out); } };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    void exited.then(() => { clearTimeout(timer); resolve(out); });
  });
  return { child, matched, exited };
}

describe.skipIf(!asRoot)('npm start as root in a checkout the postgres user cannot reach', () => {
  it('starts with a data folder it can reach, the same one again, and npm run reset removes it', async () => {
    const env = async () => ({ STAGEGATE_API_PORT: String(await freePort()), STAGEGATE_DB_PORT: String(await freePort()), STAGEGATE_CONSOLE_PORT: String(await freePort()), STAGEGATE_DEMO: 'off' });
    const first = run('stack/cli.ts', await env(), /Serving\.|STACK_START_FAILED/);
    const out1 = await first.matched;
    const folder = /Data folder: (\S+) \(the postgres user cannot reach (\S+)\/\.stagegate;/.exec(out1);
    expect(folder, out1).not.toBeNull();
    const dataDir = folder![1]!;
    created.push(dataDir);
    expect(folder![2]).toBe(checkout);
    expect(out1).toContain('Serving.');
    expect(dataDir.startsWith(checkout)).toBe(false);
    expect(fs.existsSync(path.join(dataDir, 'pgdata', 'PG_VERSION'))).toBe(true);
    expect(fs.existsSync(path.join(checkout, '.stagegate', 'pgdata'))).toBe(false);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    // The same checkout finds the same data on the next start: the database is already there.
    const second = run('stack/cli.ts', await env(), /Serving\.|STACK_START_FAILED/);
    const out2 = await second.matched;
    expect(out2).toContain(`Data folder: ${dataDir} (`);
    expect(out2).toContain('Serving.');
    // While it runs, reset refuses; after the stop it removes that folder.
    const busy = run('stack/reset.ts', {}, /STACK_RUNNING|removed/);
    expect(await busy.exited).toBe(1);
    expect(await busy.matched).toContain('STACK_RUNNING');
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    const reset = run('stack/reset.ts', {}, /removed/);
    expect(await reset.exited).toBe(0);
    expect(await reset.matched).toContain(`removed ${dataDir}`);
    expect(fs.existsSync(dataDir)).toBe(false);
  }, 240000);

  it('STAGEGATE_DATA_DIR still decides where the data goes', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stagegate-explicit-'));
    created.push(dir);
    fs.chmodSync(dir, 0o755);
    const r = run('stack/cli.ts', { STAGEGATE_DATA_DIR: dir, STAGEGATE_API_PORT: String(await freePort()), STAGEGATE_DB_PORT: String(await freePort()), STAGEGATE_CONSOLE_PORT: String(await freePort()), STAGEGATE_DEMO: 'off' }, /Serving\.|STACK_START_FAILED/);
    const out = await r.matched;
    expect(out).toContain(`Data folder: ${dir}\n`);
    expect(fs.existsSync(path.join(dir, 'pgdata', 'PG_VERSION'))).toBe(true);
    r.child.kill('SIGTERM');
    expect(await r.exited).toBe(0);
  }, 120000);
});
