// The hosted edge runtime's limits that the local Deno would not catch, checked statically over
// every file a function deploys (supabase/functions/** and the shared/ files they import, followed
// through relative imports) with the TypeScript parser:
//  - no subprocesses (Deno.Command, Deno.run, node:child_process): hosted has no --allow-run;
//  - no file writes outside /tmp (Deno.writeFile & co. need a '/tmp/…' literal path; no node:fs);
//  - background work only through EdgeRuntime.waitUntil: no setInterval or Deno.cron (nothing runs
//    between requests), EdgeRuntime used only for waitUntil, and a file that answers 202 (work
//    continuing after the response) hands that work to EdgeRuntime.waitUntil.
// Memory (150 MB per worker on hosted) is a runtime number: bench/report.ts compares the function
// server's RSS with it.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../stack/db.ts';

const functionsDir = path.join(projectRoot, 'supabase', 'functions');

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.isDirectory() ? walk(path.join(dir, d.name)) : d.name.endsWith('.ts') ? [path.join(dir, d.name)] : []);
}

function parse(file: string, text = fs.readFileSync(file, 'utf8')): ts.SourceFile {
  return ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
}

/** Every .ts file under supabase/functions plus the files they import relatively, transitively. */
function deployedFiles(): string[] {
  const seen = new Set<string>();
  const queue = walk(functionsDir);
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const visit = (node: ts.Node) => {
      const spec = (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)
        ? node.moduleSpecifier.text
        : ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword && node.arguments[0] && ts.isStringLiteral(node.arguments[0])
          ? node.arguments[0].text
          : undefined;
      if (spec?.startsWith('.')) queue.push(path.resolve(path.dirname(file), spec));
      ts.forEachChild(node, visit);
    };
    visit(parse(file));
  }
  return [...seen].sort();
}

const WRITES = new Set(['writeFile', 'writeFileSync', 'writeTextFile', 'writeTextFileSync', 'mkdir', 'mkdirSync', 'create', 'createSync',
  'open', 'openSync', 'remove', 'removeSync', 'rename', 'renameSync', 'truncate', 'truncateSync', 'copyFile', 'copyFileSync',
  'symlink', 'symlinkSync', 'link', 'linkSync', 'chmod', 'chmodSync', 'chown', 'chownSync', 'utime', 'utimeSync']);
const FORBIDDEN_DENO = new Set(['Command', 'ChildProcess', 'run', 'kill', 'cron', 'openKv']);
const FORBIDDEN_MODULES = /^(node:)?(child_process|fs|fs\/promises)$/;

/** The hosted-limit violations in one file's source, as '<file>:<line> <what>'. */
function violations(file: string, text?: string): string[] {
  const source = parse(file, text);
  const out: string[] = [];
  const at = (node: ts.Node, what: string) =>
    out.push(`${path.relative(projectRoot, file)}:${source.getLineAndCharacterOfPosition(node.getStart()).line + 1} ${what}`);
  // `Deno.x`, `globalThis.Deno.x`, `(globalThis as any).EdgeRuntime?.x` → ['Deno', 'x'] …
  const chain = (node: ts.Expression): string[] => {
    let e: ts.Expression = node;
    while (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isNonNullExpression(e)) e = e.expression;
    if (ts.isIdentifier(e)) return e.text === 'globalThis' ? [] : [e.text];
    if (ts.isPropertyAccessExpression(e)) return [...chain(e.expression), e.name.text];
    return ['?'];
  };
  const isTmpPath = (arg: ts.Expression | undefined) =>
    !!arg && (ts.isStringLiteralLike(arg) ? /^\/tmp(\/|$)/.test(arg.text) : ts.isTemplateExpression(arg) && /^\/tmp\//.test(arg.head.text));
  let answers202 = false;
  let waitsUntil = false;
  const visit = (node: ts.Node) => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)
      && FORBIDDEN_MODULES.test(node.moduleSpecifier.text)) at(node, `imports ${node.moduleSpecifier.text}`);
    if (ts.isPropertyAccessExpression(node)) {
      const c = chain(node);
      if (c.length === 2 && c[0] === 'Deno' && FORBIDDEN_DENO.has(c[1]!)) at(node, `uses Deno.${c[1]} (not available on hosted Supabase)`);
      if (c[0] === 'EdgeRuntime' && c.length === 2 && c[1] !== 'waitUntil') at(node, `uses EdgeRuntime.${c[1]}: only waitUntil`);
      if (c.join('.') === 'EdgeRuntime.waitUntil') waitsUntil = true;
    }
    if (ts.isCallExpression(node)) {
      const c = chain(node.expression);
      if (c.length === 2 && c[0] === 'Deno' && WRITES.has(c[1]!) && !isTmpPath(node.arguments[0])) {
        at(node, `Deno.${c[1]} outside /tmp (hosted allows writes only under /tmp)`);
      }
      if (c.length === 1 && c[0] === 'setInterval') at(node, 'setInterval: nothing runs between requests on hosted; use EdgeRuntime.waitUntil or a pg_cron sweep');
      for (const arg of node.arguments) if (ts.isNumericLiteral(arg) && arg.text === '202') answers202 = true;
    }
    if (ts.isPropertyAssignment(node) && node.name.getText(source) === 'status' && ts.isNumericLiteral(node.initializer) && node.initializer.text === '202') answers202 = true;
    ts.forEachChild(node, visit);
  };
  visit(source);
  if (answers202 && !waitsUntil) out.push(`${path.relative(projectRoot, file)} answers 202 but hands no work to EdgeRuntime.waitUntil`);
  return out;
}

describe('hosted runtime limits (static)', () => {
  const files = deployedFiles();

  it('covers every function file and the shared/ files they import', () => {
    const rel = files.map((f) => path.relative(projectRoot, f));
    expect(rel).toEqual(expect.arrayContaining(['supabase/functions/handoff/index.ts', 'shared/rpc.ts', 'shared/jwt.ts']));
    expect(rel.every((f) => /^(supabase\/functions|shared)\//.test(f))).toBe(true);
    for (const f of files) expect(fs.existsSync(f), f).toBe(true);
  });

  it('no function file breaks a hosted limit', () => {
    expect(files.flatMap((f) => violations(f))).toEqual([]);
  });

  it('handoff hands its respond-async work to EdgeRuntime.waitUntil', () => {
    const handoff = path.join(functionsDir, 'handoff', 'index.ts');
    expect(violations(handoff)).toEqual([]);
    const without = fs.readFileSync(handoff, 'utf8').replace(/EdgeRuntime\?\.waitUntil\?\./g, 'EdgeRuntime?.later?.');
    expect(violations(handoff, without)).toEqual([
      expect.stringMatching(/EdgeRuntime\.later: only waitUntil/),
      expect.stringMatching(/answers 202 but hands no work to EdgeRuntime\.waitUntil/),
    ]);
  });

  it('finds each kind of violation', () => {
    const bad = [
      `import { spawn } from 'node:child_process';`,
      `import fs from 'node:fs';`,
      `new Deno.Command('ls').spawn();`,
      `await Deno.writeTextFile('/var/data/x.json', '{}');`,
      `await Deno.writeTextFile('/tmp/ok.json', '{}');`,
      'await Deno.mkdir(`/tmp/${name}/x`);',
      `await Deno.remove(dir);`,
      `setInterval(() => sweep(), 1000);`,
      `Deno.cron('sweep', '* * * * *', () => {});`,
    ].join('\n');
    expect(violations(path.join(functionsDir, 'x.ts'), bad).map((v) => v.replace(/^\S+:(\d+) /, '$1 '))).toEqual([
      '1 imports node:child_process',
      '2 imports node:fs',
      '3 uses Deno.Command (not available on hosted Supabase)',
      '4 Deno.writeTextFile outside /tmp (hosted allows writes only under /tmp)',
      '7 Deno.remove outside /tmp (hosted allows writes only under /tmp)',
      '8 setInterval: nothing runs between requests on hosted; use EdgeRuntime.waitUntil or a pg_cron sweep',
      "9 uses Deno.cron (not available on hosted Supabase)",
    ]);
  });
});
