// `npm run reset`: wipe the local data folder (the embedded database). Refuses while it is in use.
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig } from './config.ts';
import { projectRoot } from './db.ts';

try {
  const config = loadConfig(process.env, projectRoot);
  const pid = path.join(config.dataDir, 'pgdata', 'postmaster.pid');
  if (fs.existsSync(pid)) {
    const owner = Number(fs.readFileSync(pid, 'utf8').split('\n')[0]);
    let running = false;
    try { process.kill(owner, 0); running = true; } catch { /* stale pid file */ }
    if (running) {
      console.error(JSON.stringify({ error: { code: 'STACK_RUNNING', message: `the local database (pid ${owner}) is running: stop npm start first` } }));
      process.exit(1);
    }
  }
  fs.rmSync(config.dataDir, { recursive: true, force: true });
  console.log(`removed ${config.dataDir}`);
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(JSON.stringify(err.toJSON()));
    process.exit(1);
  }
  throw err;
}
