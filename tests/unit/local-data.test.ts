// Where `npm start` keeps its data (localDataDir) and what it does with a postmaster.pid a crash
// left behind (recoverStalePostmaster), in-process. The whole CLI runs them in
// tests/e2e/stack-root-home.test.ts and tests/e2e/stack-stop.test.ts.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { localDataDir, recoverStalePostmaster, runningPostmaster } from '../../stack/postgres.ts';

const asRoot = process.getuid?.() === 0;
const made: string[] = [];
afterAll(() => { for (const d of made) fs.rmSync(d, { recursive: true, force: true }); });
function tempDir(mode = 0o755): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'stagegate-localdata-'));
  fs.chmodSync(d, mode);
  made.push(d);
  return d;
}

describe('localDataDir', () => {
  it('keeps an explicit STAGEGATE_DATA_DIR and a reachable checkout as they are', () => {
    const home = tempDir(0o700);
    expect(localDataDir({ dataDir: path.join(home, 'x'), dataDirExplicit: true, projectRoot: home })).toEqual({ dataDir: path.join(home, 'x') });
    const open = tempDir(0o755);
    expect(localDataDir({ dataDir: path.join(open, '.stagegate'), dataDirExplicit: false, projectRoot: open })).toEqual({ dataDir: path.join(open, '.stagegate') });
  });

  it.skipIf(!asRoot)('as root, moves an unreachable default to one folder per checkout under /var/tmp, made by us only', () => {
    const home = tempDir(0o700);
    const checkout = path.join(home, 'clone');
    fs.mkdirSync(checkout);
    const config = { dataDir: path.join(checkout, '.stagegate'), dataDirExplicit: false, projectRoot: checkout };
    const first = localDataDir(config);
    made.push(first.dataDir);
    expect(first.unreachable).toBe(config.dataDir);
    expect(first.dataDir).toMatch(/^\/var\/tmp\/stagegate-[0-9a-f]{12}$/);
    expect(fs.statSync(first.dataDir).mode & 0o777).toBe(0o700);
    expect(localDataDir(config).dataDir).toBe(first.dataDir);
    const other = path.join(home, 'clone2');
    fs.mkdirSync(other);
    const second = localDataDir({ ...config, projectRoot: other, dataDir: path.join(other, '.stagegate') }, false);
    expect(second.dataDir).not.toBe(first.dataDir);
    expect(fs.existsSync(second.dataDir)).toBe(false); // reset does not create it
    // Someone else's folder at that name (world-writable /var/tmp) is refused, not used.
    fs.chownSync(first.dataDir, 65534, 65534);
    expect(() => localDataDir(config)).toThrow(/was not made by root or postgres/);
  });
});

describe('recoverStalePostmaster', () => {
  it('does nothing without a pid file', async () => {
    expect(await recoverStalePostmaster(tempDir())).toBeUndefined();
  });

  it('removes a pid file whose server is gone, or whose pid is now another process', async () => {
    const dir = tempDir();
    const pidFile = path.join(dir, 'pgdata', 'postmaster.pid');
    fs.mkdirSync(path.dirname(pidFile));
    const gone = spawn('true');
    await new Promise((r) => gone.once('exit', r));
    fs.writeFileSync(pidFile, `${gone.pid}\n${path.dirname(pidFile)}\n`);
    expect(await recoverStalePostmaster(dir)).toMatch(/removed a stale .*postmaster\.pid \(pid \d+ is gone\)/);
    expect(fs.existsSync(pidFile)).toBe(false);

    fs.writeFileSync(pidFile, `${process.pid}\n${path.dirname(pidFile)}\n`);
    expect(runningPostmaster(dir)).toBeUndefined();
    expect(await recoverStalePostmaster(dir)).toMatch(/pid \d+ is now another process/);
    expect(fs.existsSync(pidFile)).toBe(false);
  });
});

describe('freePort', () => {
  it('never hands the same port out twice in one process', async () => {
    const { freePort } = await import('../../stack/ports.ts');
    const ports = [];
    for (let i = 0; i < 40; i++) ports.push(await freePort());
    expect(new Set(ports).size).toBe(ports.length);
  });
});
