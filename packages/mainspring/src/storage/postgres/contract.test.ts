import { freshDatabase, TEST_POSTGRES_URL } from '../../../test/helpers/server.js';
import { runEngineContract } from '../contract.js';
import { PostgresEngine } from './engine.js';

runEngineContract({
  name: 'PostgreSQL',
  unavailable: TEST_POSTGRES_URL ? undefined : 'MS_TEST_POSTGRES_URL is not set',
  async database() {
    const db = await freshDatabase();
    return {
      open: ({ statementTimeoutMs }) => PostgresEngine.open(db.url, { statementTimeoutMs }),
      remove: db.drop,
    };
  },
});
