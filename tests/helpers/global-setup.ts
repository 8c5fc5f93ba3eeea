// One PostgreSQL for the whole run (embedded, or DATABASE_URL), with the Supabase bootstrap and
// every migration applied once to a template database; each test file then clones its own
// database from the template (tests/helpers/db.ts), so files run in parallel without sharing rows.
import type { TestProject } from 'vitest/node';
import { ensureConsoleBuilt } from '../../stack/console.ts';
import { migratedDatabase, projectRoot } from '../../stack/db.ts';
import { scratchPostgres } from '../../stack/postgres.ts';

export const TEMPLATE = 'stagegate_template';

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string;
    template: string;
  }
}

export default async function setup(project: TestProject) {
  const t0 = performance.now();
  // the console once, before any file serves it (a file building it would race another serving it)
  await ensureConsoleBuilt(projectRoot);
  const server = await scratchPostgres({ prefix: 'stagegate-test-', durable: false });
  // Connections to the template would block CREATE DATABASE … TEMPLATE; none remain after migrate.
  await migratedDatabase(server.adminUrl, TEMPLATE);
  project.provide('adminUrl', server.adminUrl);
  project.provide('template', TEMPLATE);
  console.log(`[global-setup] database ready in ${Math.round(performance.now() - t0)} ms`);
  return server.stop;
}
