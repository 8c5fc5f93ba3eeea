// One PostgreSQL for the whole run (embedded, or DATABASE_URL), with the Supabase bootstrap and
// every migration applied once to a template database; each test file then clones its own
// database from the template (tests/helpers/db.ts), so files run in parallel without sharing rows.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { bootstrap, createDatabase, dropDatabase, migrate, waitForDatabase, withDatabase } from '../../stack/db.ts';
import { freePort } from '../../stack/ports.ts';
import { startEmbeddedPostgres } from '../../stack/postgres.ts';

export const TEMPLATE = 'stagegate_template';

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string;
    template: string;
  }
}

export default async function setup(project: TestProject) {
  const t0 = performance.now();
  let adminUrl = process.env.DATABASE_URL;
  let stopServer: (() => Promise<void>) | undefined;
  let dataDir: string | undefined;
  if (!adminUrl) {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stagegate-test-'));
    fs.chmodSync(dataDir, 0o755);
    const pg = await startEmbeddedPostgres({ dataDir, port: await freePort(), durable: false });
    adminUrl = pg.url();
    stopServer = pg.stop;
  }
  await waitForDatabase(adminUrl);
  await bootstrap(adminUrl);
  await dropDatabase(adminUrl, TEMPLATE);
  await createDatabase(adminUrl, TEMPLATE);
  const templateUrl = withDatabase(adminUrl, TEMPLATE);
  await bootstrap(templateUrl);
  await migrate(templateUrl);
  // Connections to the template would block CREATE DATABASE … TEMPLATE; none remain after migrate.
  project.provide('adminUrl', adminUrl);
  project.provide('template', TEMPLATE);
  console.log(`[global-setup] database ready in ${Math.round(performance.now() - t0)} ms`);
  return async () => {
    await stopServer?.();
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  };
}
