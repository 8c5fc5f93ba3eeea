// stack/console.ts: the console's build-when-stale, its static server and what /config.json offers.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consoleConfigFor, ensureConsoleBuilt, LOCAL_JWT_SECRET, startConsoleServer, type ConsoleServer } from '../../stack/console.ts';
import { projectRoot } from '../../stack/db.ts';

let site: ConsoleServer;
beforeAll(async () => {
  fs.mkdirSync(path.join(projectRoot, 'scratch'), { recursive: true });
  await ensureConsoleBuilt(projectRoot);
  site = await startConsoleServer({ projectRoot, port: 0, config: await consoleConfigFor({ apiUrl: 'http://127.0.0.1:54321', anonKey: 'a', serviceRoleKey: 's', jwtSecret: LOCAL_JWT_SECRET }) });
}, 120_000);
afterAll(async () => { await site?.stop(); });

/** A raw GET, so a path like /../package.json reaches the server unnormalised. */
function rawGet(p: string, method = 'GET'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(site.url);
    const req = http.request({ host: url.hostname, port: url.port, path: p, method }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('console server', () => {
  it('offers the demo identities only while the stack signs with the local secret', async () => {
    const local = await consoleConfigFor({ apiUrl: 'http://x', anonKey: 'a', serviceRoleKey: 's', jwtSecret: LOCAL_JWT_SECRET });
    expect(local.demoUsers?.map((u) => u.role)).toEqual([
      'LEAD of demo-platform', 'PLAN of demo-platform', 'EXEC of demo-platform', 'VIEWER of demo-platform', 'LEAD of demo-billing', 'service_role', 'anon',
    ]);
    const other = await consoleConfigFor({ apiUrl: 'http://x', anonKey: 'a', serviceRoleKey: 's', jwtSecret: 'a-project-secret-that-is-32-characters-long' });
    expect(other).toEqual({ apiUrl: 'http://x', anonKey: 'a' });
  });

  it('serves the built app, the config, and nothing outside console/dist', async () => {
    const index = await rawGet('/');
    expect(index.status).toBe(200);
    expect(index.body).toContain('<div id="app">');
    expect(JSON.parse((await rawGet('/config.json')).body)).toMatchObject({ apiUrl: 'http://127.0.0.1:54321', demoUsers: expect.arrayContaining([{ label: 'service role', role: 'service_role', token: 's' }]) });
    expect((await rawGet('/../package.json')).status).toBe(404);
    expect((await rawGet('/%2e%2e/package.json')).status).toBe(404);
    expect((await rawGet('/nope.js')).status).toBe(404);
    expect((await rawGet('/', 'POST')).status).toBe(405);
  });

  it('builds when there is no build, then only when a source is newer than the build', async () => {
    // a copy of the console and shared/ inside the project (so node_modules resolves), never
    // the real console/dist, which the browser test may be serving at the same time
    const root = fs.mkdtempSync(path.join(projectRoot, 'scratch', 'console-build-'));
    try {
      for (const part of ['console/src', 'console/public', 'console/index.html', 'console/vite.config.ts', 'shared']) {
        fs.cpSync(path.join(projectRoot, part), path.join(root, part), { recursive: true });
      }
      expect((await ensureConsoleBuilt(root)).built).toBe(true);
      expect(await ensureConsoleBuilt(root)).toEqual({ built: false, ms: 0 });
      const dist = path.join(root, 'console', 'dist', 'index.html');
      const old = new Date(Date.now() - 3_600_000);
      fs.utimesSync(dist, old, old);
      expect((await ensureConsoleBuilt(root)).built).toBe(true);
      expect(fs.statSync(dist).mtimeMs).toBeGreaterThan(old.getTime());
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  }, 120_000);
});
