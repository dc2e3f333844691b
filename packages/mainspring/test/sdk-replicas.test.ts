import { test, vi } from 'vitest';
import { type ReplicaCluster, replicasUnavailable, startCluster, startReplicatedServer } from './helpers/replicas.js';
import { sdkScenario } from './helpers/sdk-scenario.js';

/**
 * The official SDK's scenario (sdk.test.ts) against a server that reads from
 * two streaming standbys (deploy/replicas/cluster.sh): what each SDK client
 * wrote, it reads back, whichever node serves the read.
 */
const WHY = replicasUnavailable();
if (WHY) {
  console.warn(`SDK with standbys skipped: ${WHY}`);
  test.skip(`the official SDK with two standbys (${WHY})`, () => {});
} else {
  // making the cluster (initdb, two base backups) takes seconds the shared scenario's start does not allow for
  vi.setConfig({ hookTimeout: 120_000 });
  sdkScenario('the official SDK with two standbys', async () => {
    const cluster: ReplicaCluster = await startCluster({ standbys: 2 });
    try {
      const s = await startReplicatedServer(cluster);
      return {
        ...s,
        async close() {
          // the scenario ran on the standbys too, not on the primary alone
          const served = (s.app.engine.stats().replication?.standbys ?? []).reduce((n, x) => n + x.reads, 0);
          await s.close();
          await cluster.down();
          if (served === 0) throw new Error('no read of the SDK scenario went to a standby');
        },
      };
    } catch (err) {
      await cluster.down();
      throw err;
    }
  });
}
