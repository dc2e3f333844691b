import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runEngineContract } from '../contract.js';
import { SqliteEngine } from './engine.js';

// with reader processes (the default), and without them (MS_SQLITE_READERS=0), where read() runs on the event loop
for (const [name, readers] of [
  ['SQLite', undefined],
  ['SQLite without reader processes', 0],
] as const) {
  runEngineContract({
    name,
    async database() {
      const dir = mkdtempSync(join(tmpdir(), 'ms-sqlite-contract-'));
      return {
        open: async ({ statementTimeoutMs }) => new SqliteEngine(join(dir, 'data.db'), { statementTimeoutMs, readers }),
        remove: async () => rmSync(dir, { recursive: true, force: true }),
      };
    },
  });
}
