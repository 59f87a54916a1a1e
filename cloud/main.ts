import { createLogger } from '../shared/logger.ts';
import { ConfigError } from '../shared/config-env.ts';
import { hubConfigFromEnv } from './config.ts';
import { startHub } from './hub.ts';

const logger = createLogger('hub');
try {
  const hub = await startHub(hubConfigFromEnv(), logger);
  console.log(`Hub REST API: ${hub.httpUrl}/api/v1  ·  OpenAPI: ${hub.httpUrl}/docs  ·  MQTT: ${hub.mqttUrl}`);
  const shutdown = () => void hub.stop().then(() => process.exit(0));
  process.once('SIGINT', shutdown);
  process.once('SIGTERM', shutdown);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(2);
  }
  throw error;
}
