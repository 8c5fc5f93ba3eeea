// The local stack as `npm start` runs it: its own embedded PostgreSQL in a fresh data folder,
// migrations through the Supabase CLI, the Deno functions server, readiness from `health`.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../stack/config.ts';
import { projectRoot } from '../../stack/db.ts';
import { freePort, PortInUseError } from '../../stack/ports.ts';
import { startStack, type RunningStack } from '../../stack/stack.ts';
import { freshDatabase } from '../helpers/db.ts';

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try { process.kill(pid, 0); return true; } catch { return false; }
}

describe('local stack', () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stagegate-stack-'));
  fs.chmodSync(dataDir, 0o755);
  const stacks: RunningStack[] = [];
  afterAll(async () => {
    for (const s of stacks) await s.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  async function config(extra: Record<string, string> = {}) {
    return loadConfig({ STAGEGATE_API_PORT: String(await freePort()), STAGEGATE_DB_PORT: String(await freePort()), STAGEGATE_DATA_DIR: dataDir, ...extra }, projectRoot);
  }

  it('starts cold, is ready only when health passes, and stops every process it started', async () => {
    const stack = await startStack(await config(), { durable: false });
    stacks.push(stack);
    expect(stack.embedded).toBe(true);
    expect(stack.timings.ready).toBeGreaterThan(0);
    const health = await fetch(`${stack.functionsUrl}/health`, { headers: { authorization: `Bearer ${stack.serviceRoleKey}` } });
    expect(health.status).toBe(200);
    // Postgres runs as the postgres OS user when we are root, and owns its data folder.
    const pgdata = path.join(dataDir, 'pgdata');
    const pgPid = Number(fs.readFileSync(path.join(pgdata, 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (process.getuid?.() === 0) {
      expect(fs.statSync(pgdata).uid).toBe(Number(execFileSync('id', ['-u', 'postgres']).toString()));
    }
    const fnPid = stack.functions.pid;
    expect(alive(pgPid) && alive(fnPid)).toBe(true);
    await stack.stop();
    expect(alive(pgPid)).toBe(false);
    expect(alive(fnPid)).toBe(false);
  });

  it('reuses the data folder on a second start (warm)', async () => {
    const stack = await startStack(await config(), { durable: false });
    stacks.push(stack);
    expect(stack.timings.ready).toBeGreaterThan(0);
    const response = await fetch(`${stack.functionsUrl}/health`, { headers: { authorization: `Bearer ${stack.serviceRoleKey}` } });
    expect((await response.json()).migration.version).toMatch(/^\d{14}$/);
    await stack.stop();
  });

  it('names the port and the variable when a port is taken', async () => {
    const blocker = net.createServer();
    const port = await freePort();
    await new Promise<void>((r) => blocker.listen(port, '127.0.0.1', () => r()));
    try {
      await expect(startStack(await config({ STAGEGATE_API_PORT: String(port) }))).rejects.toThrow(PortInUseError);
      await expect(startStack(await config({ STAGEGATE_API_PORT: String(port) }))).rejects.toThrow(`port ${port} is already in use: stop what holds it or set STAGEGATE_API_PORT to another port`);
      await expect(startStack(await config({ STAGEGATE_DB_PORT: String(port) }))).rejects.toThrow(/STAGEGATE_DB_PORT/);
    } finally {
      blocker.close();
    }
  });

  it('uses DATABASE_URL instead of starting a database', async () => {
    const db = await freshDatabase();
    try {
      const stack = await startStack(await config({ DATABASE_URL: db.url }));
      stacks.push(stack);
      expect(stack.embedded).toBe(false);
      expect(stack.dbUrl).toBe(db.url);
      await stack.stop();
    } finally {
      await db.drop();
    }
  });
});
