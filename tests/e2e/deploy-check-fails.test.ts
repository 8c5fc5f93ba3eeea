// The deploy check of tests/e2e/deploy.test.ts fails a function that would not run on hosted
// Supabase. A fixture project, deployed with the real CLI to the Management API stand-in: a bare
// name the uploaded import map does not map, an import the CLI does not upload, a function without
// an uploaded import map (this README's steps before issue 19), an import map carrying the root
// deno.json's "nodeModulesDir" — and a control that passes, so the failures are the faults.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deployFunctions, denoCheck, rebuild, startRebuilt, type Result } from '../helpers/deploy.ts';
import { startManagementApi, type ManagementApi } from '../helpers/management-api.ts';

const LONG = 240000;

// A throw-away Supabase project: a config.toml, the given files, deployed with the real CLI.
function fixtureProject(config: string, files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stagegate-deploy-fixture-'));
  fs.mkdirSync(path.join(dir, 'supabase'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'supabase', 'config.toml'), `project_id = "fixture"\n${config}`);
  for (const [file, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), content);
  }
  return dir;
}

describe('the deploy check fails a function that would not run on hosted Supabase', () => {
  const map = (imports: Record<string, string>, extra: Record<string, unknown> = {}) => JSON.stringify({ ...extra, imports }, null, 2);
  const serve = `Deno.serve(() => Response.json({ ok: true }));\n`;
  let api: ManagementApi;
  let project: string;
  let deploy: Result;

  beforeAll(async () => {
    api = await startManagementApi('stagegatefixtureproj');
    project = fixtureProject(
      [
        '[functions.control]\nimport_map = "./functions/deno.json"',
        '[functions.unmapped]\nimport_map = "./functions/deno.json"',
        '[functions.not-uploaded]\nimport_map = "./functions/deno.json"',
        '[functions.no-map]',
        '[functions.leaky]\nimport_map = "./functions/leaky/deno.json"',
      ].join('\n\n') + '\n',
      {
        'deno.json': map({ zod: 'npm:zod@4.6.7', 'p-limit': 'npm:p-limit@7.3.3' }, { nodeModulesDir: 'manual' }),
        'supabase/functions/deno.json': map({ zod: 'npm:zod@4.6.7' }),
        'shared/greeting.ts': `import { z } from 'zod';\nexport const greeting = z.string().parse('hello');\n`,
        // Imports resolved the way hosted resolves them: the control deploys and answers.
        'supabase/functions/control/index.ts': `import { greeting } from '../../../shared/greeting.ts';\nDeno.serve(() => Response.json({ greeting }));\n`,
        // 'p-limit' is in the root deno.json (so it runs locally) but not in the uploaded map.
        'supabase/functions/unmapped/index.ts': `import { z } from 'zod';\nimport pLimit from 'p-limit';\nz.string().parse('x');\npLimit(1);\n${serve}`,
        // The CLI finds imports with a regular expression that a brace inside a comment defeats:
        // helper.ts exists and Deno runs it locally, but it is never uploaded.
        'supabase/functions/not-uploaded/index.ts': `import {\n  helper, // returns {ok}\n} from './helper.ts';\nhelper();\n${serve}`,
        'supabase/functions/not-uploaded/helper.ts': `export function helper(): { ok: boolean } { return { ok: true }; }\n`,
        // No import_map: the CLI never reads the root deno.json, so 'zod' reaches hosted unmapped.
        'supabase/functions/no-map/index.ts': `import { z } from 'zod';\nz.string().parse('x');\n${serve}`,
        // The root deno.json's "nodeModulesDir": "manual" inside an uploaded map wants a node_modules.
        'supabase/functions/leaky/deno.json': map({ zod: 'npm:zod@4.6.7' }, { nodeModulesDir: 'manual' }),
        'supabase/functions/leaky/index.ts': `import { z } from 'zod';\nz.string().parse('x');\n${serve}`,
      },
    );
    deploy = await deployFunctions(project, api.ref, api.env);
  }, LONG);

  afterAll(async () => {
    await api?.stop();
    if (project) fs.rmSync(project, { recursive: true, force: true });
  });

  async function checkAndStart(name: string): Promise<{ check: Result; answer?: unknown; startError?: string }> {
    const d = api.deployments.get(name);
    expect(d, `${name} was deployed:\n${deploy.output}`).toBeDefined();
    const fn = rebuild(d!);
    // Both at once: they are independent, and a failing check is never cached.
    const [check, started] = await Promise.all([denoCheck(fn), (async () => {
      try {
        const server = await startRebuilt(fn, {});
        try {
          return { answer: await (await fetch(`${server.url}/${name}`)).json() as unknown };
        } finally {
          await server.stop();
        }
      } catch (err) {
        return { startError: (err as Error).message };
      }
    })()]);
    return { check, ...started };
  }

  it('the fixture deployed: every function went up', () => {
    expect(deploy.code, deploy.output).toBe(0);
    expect([...api.deployments.keys()].sort()).toEqual(['control', 'leaky', 'no-map', 'not-uploaded', 'unmapped']);
  });

  it('control: a correctly mapped function passes (the failures below are the faults, not the harness)', async () => {
    const r = await checkAndStart('control');
    expect(r.check.code, r.check.output).toBe(0);
    expect(r.answer).toEqual({ greeting: 'hello' });
  }, LONG);

  it('a bare name the uploaded import map does not map fails', async () => {
    const r = await checkAndStart('unmapped');
    expect(r.check.code).not.toBe(0);
    expect(r.check.output).toContain('p-limit');
    expect(r.startError).toContain('p-limit');
  }, LONG);

  it('an import the CLI did not upload fails', async () => {
    expect([...api.deployments.get('not-uploaded')!.files.keys()]).not.toContain('supabase/functions/not-uploaded/helper.ts');
    const r = await checkAndStart('not-uploaded');
    expect(r.check.code).not.toBe(0);
    expect(r.check.output).toContain('helper.ts');
    expect(r.startError).toContain('helper.ts');
  }, LONG);

  it('a function without an uploaded import map (imports only in the root deno.json) fails', async () => {
    expect(api.deployments.get('no-map')!.metadata.import_map_path ?? '').toBe('');
    const r = await checkAndStart('no-map');
    expect(r.check.code).not.toBe(0);
    expect(r.check.output).toContain('zod');
  }, LONG);

  it('an uploaded import map with "nodeModulesDir": "manual" fails without a node_modules', async () => {
    const r = await checkAndStart('leaky');
    expect(r.check.code).not.toBe(0);
    expect(r.check.output).toContain('node_modules');
    expect(r.startError).toContain('node_modules');
  }, LONG);
});
