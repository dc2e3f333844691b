import { sdkScenario } from './helpers/sdk-scenario.js';
import { startServer } from './helpers/server.js';

sdkScenario('the official SDK against Mainspring', () => startServer());
