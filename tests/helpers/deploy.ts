// The deploy check's parts: run the real Supabase CLI against the Management API stand-in
// (tests/helpers/management-api.ts), rebuild a function from what it uploaded — alone, in an empty
// folder, with the uploaded import map, no node_modules, no package.json, no project config — and
// type-check and start it with the real Deno, which fetches the npm packages from the npm
// registry the way the hosted bundler does (DENO_DIR is a cache under node_modules/.cache, so
// only the first run downloads).
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../../stack/db.ts';
import { denoBinary } from '../../stack/functions.ts';
import { freePort, waitForPort } from '../../stack/ports.ts';
import { startManaged } from '../../stack/processes.ts';
import type { Deployment } from './management-api.ts';

const run = promisify(execFile);
export const DENO_DIR = path.join(projectRoot, 'node_modules', '.cache', 'stagegate-deploy-check-deno');

export interface Result { code: number; output: string }

async function exec(command: string, args: string[], opts: { cwd: string; env: Record<string, string | undefined>; timeoutMs?: number }): Promise<Result> {
  try {
    const { stdout, stderr } = await run(command, args, { cwd: opts.cwd, env: opts.env, timeout: opts.timeoutMs ?? 180000, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, output: `${stdout}${stderr}` };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string; message: string };
    return { code: typeof e.code === 'number' ? e.code : 1, output: `${e.stdout ?? ''}${e.stderr ?? ''}${e.stdout || e.stderr ? '' : e.message}` };
  }
}

/** A bash script run as the README shows it, in `cwd`, with node_modules/.bin on PATH (for npx). */
export function bash(script: string, cwd: string, env: Record<string, string>): Promise<Result> {
  return exec('bash', ['-euo', 'pipefail', '-c', script], {
    cwd,
    env: { ...process.env, ...env, PATH: `${path.join(projectRoot, 'node_modules', '.bin')}:${process.env.PATH ?? ''}` },
  });
}

/** `supabase functions deploy --use-api` of a project folder (its own supabase/config.toml), to the stand-in. */
export function deployFunctions(cwd: string, ref: string, env: Record<string, string>): Promise<Result> {
  const cli = path.join(projectRoot, 'node_modules', '.bin', 'supabase');
  return exec(cli, ['functions', 'deploy', '--use-api', '--project-ref', ref], { cwd, env: { ...process.env, ...env } });
}

// How this machine reaches the npm registry (CA bundle, proxy, mirror): passed on to Deno.
const NETWORK_ENV = /^(SSL_CERT_FILE|SSL_CERT_DIR|DENO_CERT|HTTPS?_PROXY|NO_PROXY|NPM_CONFIG_REGISTRY)$/i;

function denoEnv(extra: Record<string, string> = {}): Record<string, string> {
  // Only what Deno needs: nothing from this project's environment leaks into the rebuilt function.
  const network = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => NETWORK_ENV.test(e[0]) && e[1] !== undefined));
  return {
    PATH: process.env.PATH ?? '', HOME: os.tmpdir(), DENO_DIR, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1',
    // The system's CAs as well as Deno's own: a registry behind a proxy with its own CA still verifies.
    DENO_TLS_CA_STORE: 'system,mozilla',
    ...network, ...extra,
  };
}

export interface Rebuilt {
  dir: string;
  entry: string;
  /** How Deno is told about the uploaded import map: a deno.json is a config, anything else an import map. */
  mapArgs: string[];
}

/**
 * Writes a deployment's uploaded files, and nothing else, into an empty folder of their own under
 * the system's temp folder (outside any project: no deno.json, package.json or node_modules above
 * it). The folder is named by a hash of what was uploaded, so a re-run with the same upload reuses
 * it and Deno's type-check cache (keyed by the files' URLs) answers in milliseconds; a changed
 * upload gets a new folder. Built under a temporary name and renamed, so parallel runs cannot see
 * a half-written folder.
 */
export function rebuild(deployment: Deployment): Rebuilt {
  const hash = createHash('sha256').update(JSON.stringify([deployment.slug, deployment.metadata, [...deployment.files]])).digest('hex').slice(0, 16);
  const root = path.join(os.tmpdir(), 'stagegate-deployed');
  const dir = path.join(root, `${deployment.slug}-${hash}`);
  if (!fs.existsSync(dir)) {
    fs.mkdirSync(root, { recursive: true });
    const building = fs.mkdtempSync(`${dir}.building-`);
    for (const [file, content] of deployment.files) {
      const target = path.resolve(building, file);
      if (!target.startsWith(building + path.sep)) throw new Error(`uploaded path escapes the folder: ${file}`);
      fs.mkdirSync(path.dirname(target), { recursive: true });
      fs.writeFileSync(target, content);
    }
    try {
      fs.renameSync(building, dir);
    } catch {
      fs.rmSync(building, { recursive: true, force: true }); // another run built the same folder first
    }
  }
  const map = deployment.metadata.import_map_path;
  if (map && !deployment.files.has(map)) throw new Error(`${deployment.slug}: import map ${map} is named in the metadata but was not uploaded`);
  const mapArgs = !map ? ['--no-config'] : /(^|\/)deno\.jsonc?$/.test(map) ? ['--config', map] : ['--no-config', '--import-map', map];
  return { dir, entry: deployment.metadata.entrypoint_path, mapArgs };
}

/** `deno check` of the rebuilt function's entrypoint. */
export function denoCheck(fn: Rebuilt): Promise<Result> {
  return exec(denoBinary(), ['check', '--quiet', '--no-lock', ...fn.mapArgs, fn.entry], { cwd: fn.dir, env: denoEnv() });
}

export interface Started { url: string; stop: () => Promise<void>; tail: () => string }

/**
 * Starts the rebuilt function the way the hosted runtime does: its own Deno.serve, bound here by
 * DENO_SERVE_ADDRESS; network and env access, reads, writes only under /tmp, no subprocesses.
 */
export async function startRebuilt(fn: Rebuilt, env: Record<string, string>): Promise<Started> {
  const port = await freePort();
  const proc = startManaged('deployed', denoBinary(), [
    'run', '--no-prompt', '--no-lock', '--allow-net', '--allow-env', '--allow-read', '--allow-sys', '--allow-write=/tmp', ...fn.mapArgs, fn.entry,
  ], { cwd: fn.dir, env: denoEnv({ ...env, DENO_SERVE_ADDRESS: `tcp:127.0.0.1:${port}` }) });
  try {
    await waitForPort(port, 60000, proc.alive);
  } catch (err) {
    await proc.stop('SIGKILL', 1000);
    throw new Error(`the rebuilt function did not start: ${(err as Error).message}\n${proc.tail()}`);
  }
  return { url: `http://127.0.0.1:${port}`, stop: () => proc.stop('SIGTERM', 3000), tail: proc.tail };
}
