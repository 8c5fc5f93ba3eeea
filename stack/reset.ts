// `npm run reset`: wipe the local data folder (the embedded database). Refuses while it is in use.
// It finds the folder as `npm start` does (STAGEGATE_DATA_DIR, <checkout>/.stagegate, or, as root
// with a checkout the postgres user cannot reach, the folder under /var/tmp named after it).
import fs from 'node:fs';
import { ConfigError, loadConfig } from './config.ts';
import { projectRoot } from './db.ts';
import { localDataDir, runningPostmaster } from './postgres.ts';

try {
  const config = loadConfig(process.env, projectRoot);
  const { dataDir } = localDataDir(config, false);
  const owner = runningPostmaster(dataDir);
  if (owner) {
    console.error(JSON.stringify({ error: { code: 'STACK_RUNNING', message: `the local database (pid ${owner}) is running: stop npm start first` } }));
    process.exit(1);
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
  console.log(`removed ${dataDir}`);
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(JSON.stringify(err.toJSON()));
    process.exit(1);
  }
  throw err;
}
