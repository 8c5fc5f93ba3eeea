// Serves supabase/functions/* with the Deno binary from the `deno` npm package, through
// stack/edge-runtime.ts, with the environment the hosted runtime injects.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { parse as parseToml } from 'smol-toml';
import { startManaged, type Managed } from './processes.ts';
import { waitForPort } from './ports.ts';

const require = createRequire(import.meta.url);

export interface FunctionSpec { name: string; entry: string; verifyJwt: boolean }

/** Every function folder with an index.ts (folders starting with _ are shared code), and its verify_jwt. */
export function discoverFunctions(projectRoot: string): FunctionSpec[] {
  const dir = path.join(projectRoot, 'supabase', 'functions');
  const config = parseToml(fs.readFileSync(path.join(projectRoot, 'supabase', 'config.toml'), 'utf8')) as {
    functions?: Record<string, { verify_jwt?: boolean }>;
  };
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('_') && fs.existsSync(path.join(dir, d.name, 'index.ts')))
    .map((d) => ({
      name: d.name,
      entry: `file://${path.join(dir, d.name, 'index.ts')}`,
      // Hosted Supabase verifies the JWT unless the function opts out; so do we.
      verifyJwt: config.functions?.[d.name]?.verify_jwt ?? true,
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The binary the `deno` npm package's install step puts beside its package.json. */
export function denoBinary(): string {
  const binary = path.join(path.dirname(require.resolve('deno/package.json')), 'deno');
  if (!fs.existsSync(binary)) throw new Error(`no Deno binary at ${binary}: run npm install (the deno package installs it)`);
  return binary;
}

export interface FunctionsServer { stop: () => Promise<void>; pid: number | undefined; process: Managed }

export async function startFunctions(opts: {
  projectRoot: string;
  port: number;
  env: Record<string, string>;
  onLog?: (line: string) => void;
  /** Aborting stops the wait for the port (and the server). */
  signal?: AbortSignal;
}): Promise<FunctionsServer> {
  const specs = discoverFunctions(opts.projectRoot);
  // A 2 MB young generation: under a steady 20 handoffs/s the server's RSS then stays flat
  // (+9 % over 60 s) instead of growing 50 % while V8 sizes its nursery up, at the same latency
  // (bench/results/load-v8-default.json vs load.json). An empty value keeps V8's defaults.
  const v8Flags = process.env.STAGEGATE_DENO_V8_FLAGS ?? '--max-semi-space-size=2';
  const args = ['run', '--no-prompt', '--allow-net', '--allow-env', '--allow-read', '--allow-sys', ...(v8Flags ? [`--v8-flags=${v8Flags}`] : []), '--config', path.join(opts.projectRoot, 'deno.json'), path.join(opts.projectRoot, 'stack', 'edge-runtime.ts')];
  const server = startManaged('functions', denoBinary(), args, {
    cwd: opts.projectRoot,
    env: { ...process.env, ...opts.env, STAGEGATE_FUNCTIONS: JSON.stringify(specs), STAGEGATE_API_PORT: String(opts.port), NO_COLOR: '1' },
    onLine: opts.onLog,
    // If we die without stopping it, the watchdog stops it (SIGTERM, then SIGKILL after 5 s).
    watchdog: { signal: 'SIGTERM', graceMs: 5000 },
  });
  try {
    await waitForPort(opts.port, 30000, () => server.alive() && !opts.signal?.aborted);
  } catch (err) {
    await server.stop();
    throw new Error(`the functions server did not start: ${(err as Error).message}\n${server.tail()}`);
  }
  return { stop: () => server.stop('SIGTERM', 3000), pid: server.child.pid, process: server };
}
