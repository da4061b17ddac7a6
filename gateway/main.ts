/**
 * `npm start`: run the gateway from a config file and the environment.
 * Exit codes: 0 clean shutdown, 2 bad configuration (or a data directory others can read), 1 anything else.
 */
import { Command } from 'commander';
import { ConfigError, configEntries, configMarkdown, loadConfig } from './config.ts';
import { errorsMarkdown } from './errors.ts';
import { commandsMarkdown } from './commands/index.ts';
import { Gateway, VERSION } from './gateway.ts';
import { InsecureFilesError } from './security/at-rest.ts';

const program = new Command('vigil-gateway')
  .description('Vigil edge gateway: MQTT broker, validated device ingest and HTTP API')
  .version(VERSION)
  .option('-c, --config <file>', 'JSON config file (default: $VIGIL_CONFIG, else built-in defaults)')
  .option('--print-config', 'print the effective configuration as JSON and exit')
  .option('--list-options', 'list every option with its environment variable and default, then exit')
  .option('--config-doc', 'print the configuration reference as a Markdown table (the README has it), then exit')
  .option('--errors-doc', 'print the error catalogue as a Markdown table (the README has it), then exit')
  .option('--commands-doc', "print the devices' commands as a Markdown table (the README has it), then exit")
  .parse();

const opts = program.opts<{ config?: string; printConfig?: boolean; listOptions?: boolean; configDoc?: boolean; errorsDoc?: boolean; commandsDoc?: boolean }>();

if (opts.commandsDoc) {
  console.log(commandsMarkdown());
  process.exit(0);
}

if (opts.errorsDoc) {
  console.log(errorsMarkdown());
  process.exit(0);
}

if (opts.configDoc) {
  console.log(configMarkdown());
  process.exit(0);
}

if (opts.listOptions) {
  for (const e of configEntries()) console.log(`${e.path.join('.').padEnd(28)} ${e.env.padEnd(34)} ${JSON.stringify(e.default)}  ${e.description}`);
  process.exit(0);
}

let config;
try {
  config = loadConfig({ file: opts.config });
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(`vigil-gateway: ${err.message}`);
    process.exit(2);
  }
  throw err;
}
if (opts.printConfig) {
  const redact = (v: string) => (v ? '[redacted]' : '');
  console.log(
    JSON.stringify(
      {
        ...config,
        forward: {
          ...config.forward,
          token: redact(config.forward.token),
          privacy: { ...config.forward.privacy, pseudonymKey: redact(config.forward.privacy.pseudonymKey) },
          mqtt: { ...config.forward.mqtt, password: redact(config.forward.mqtt.password) },
        },
        security: { ...config.security, masterKey: redact(config.security.masterKey) },
      },
      null,
      2,
    ),
  );
  process.exit(0);
}

let gateway: Gateway;
try {
  gateway = new Gateway({ config, processMetrics: true });
} catch (err) {
  // An unsafe data directory is refused like a bad configuration: the operator must act.
  console.error(`vigil-gateway: ${(err as Error).message}`);
  process.exit(err instanceof InsecureFilesError ? 2 : 1);
}
let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) {
    gateway.log.warn({ signal }, 'second signal: exiting now');
    process.exit(1);
  }
  stopping = true;
  gateway.log.info({ signal }, 'shutting down');
  gateway.stop().then(
    () => process.exit(0),
    (err) => {
      gateway.log.error({ err }, 'shutdown failed');
      process.exit(1);
    },
  );
};
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));

try {
  await gateway.start();
} catch (err) {
  console.error(`vigil-gateway: failed to start: ${(err as Error).message}`);
  process.exit(1);
}
