// One list of dependencies: supabase/functions/deno.json is the import map every function uploads
// (named by import_map in config.toml); the root deno.json, used by `npm run check` and the local
// stack, imports it instead of keeping a copy; its versions are package.json's (the local stack
// resolves them from node_modules, hosted Supabase from the npm registry: the same code both ways).
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseToml } from 'smol-toml';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../stack/db.ts';
import { discoverFunctions } from '../../stack/functions.ts';

const readJson = (file: string) => JSON.parse(fs.readFileSync(path.join(projectRoot, file), 'utf8')) as Record<string, unknown>;
const MAP = 'supabase/functions/deno.json';

describe('the import map', () => {
  const map = readJson(MAP);
  const imports = map.imports as Record<string, string>;

  it('is only an import map: nothing of the root config (nodeModulesDir, lint, compilerOptions) is uploaded', () => {
    expect(Object.keys(map)).toEqual(['imports']);
    expect(Object.keys(imports).length).toBeGreaterThan(0);
  });

  it("is the root deno.json's map: the root config imports it and lists no imports of its own", () => {
    const root = readJson('deno.json');
    expect(root.imports).toBeUndefined();
    expect(root.scopes).toBeUndefined();
    expect(path.resolve(projectRoot, root.importMap as string)).toBe(path.join(projectRoot, MAP));
  });

  it("pins every npm package at package.json's exact version", () => {
    const deps = (readJson('package.json').dependencies ?? {}) as Record<string, string>;
    for (const [name, target] of Object.entries(imports)) {
      const m = /^npm:((?:@[^/@]+\/)?[^/@]+)@([^/]+)$/.exec(target);
      expect(m, `${name} → ${target} is npm:<package>@<version>`).not.toBeNull();
      expect([name, m![2]]).toEqual([name, deps[m![1]!]]);
    }
  });

  it('is named by import_map in every function section of config.toml, and every function has a section', () => {
    const config = parseToml(fs.readFileSync(path.join(projectRoot, 'supabase/config.toml'), 'utf8')) as {
      functions?: Record<string, { import_map?: string }>;
    };
    const names = discoverFunctions(projectRoot).map((f) => f.name);
    expect(Object.keys(config.functions ?? {}).sort()).toEqual(names);
    for (const name of names) {
      // config.toml paths are relative to the supabase/ folder.
      expect([name, path.resolve(projectRoot, 'supabase', config.functions![name]!.import_map ?? '')]).toEqual([name, path.join(projectRoot, MAP)]);
    }
  });
});
