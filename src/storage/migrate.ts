// `node dist/src/storage/migrate.js`: applies pending migrations to the service database; set-up runs it (issue #4).
import { loadServiceConfig } from '../config/service.js';
import { migrateDb, openDb } from './db.js';

const cfg = loadServiceConfig(process.env);
const handle = openDb(cfg.dbPath);
try {
  migrateDb(handle.db);
  process.stderr.write(`[setup] database ready: ${cfg.dbPath}\n`);
} finally {
  handle.close();
}
