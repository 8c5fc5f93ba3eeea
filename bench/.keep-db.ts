import { benchDatabase } from './env.ts';
const db = await benchDatabase('inv_keep');
console.log(`URL ${db.url}`);
process.on('SIGTERM', () => { void db.stop().then(() => process.exit(0)); });
setInterval(() => {}, 1 << 30);
