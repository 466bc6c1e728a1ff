import { type ParseArgsConfig, parseArgs } from 'node:util';
import { options } from '../config/options.ts';
import { StartupError } from '../errors/catalog.ts';
import type { Lookout } from '../main.ts';
import { startTelemetry } from '../telemetry/bootstrap.ts';
import { version } from '../version.ts';
import { keygen, sign } from './keys.ts';
import { resolveLookoutForToolModules } from './resolve-lookout.ts';

const usageExit = 2;
/** How long a failed start-up waits for telemetry to flush before exiting. */
const startupFailureFlushMs = 2000;

function helpText(): string {
  const width = Math.max(...options.map((o) => o.flag.length)) + 4;
  const lines = options.map((o) => {
    const flag = `--${o.flag}`.padEnd(width + 2);
    return `  ${flag}${o.help}\n  ${' '.repeat(width + 2)}env ${o.env}; ${o.form}`;
  });
  return [
    `lookout ${version}: an OpenTelemetry-first MCP server and gateway`,
    '',
    'Usage: lookout [options]',
    '       lookout keygen [--out <dir>]            Make an Ed25519 key pair for signing tool modules',
    '       lookout sign <module> --key <file>      Sign a tool module (writes <module>.sig)',
    '',
    'Options (flags override environment, which overrides the config file):',
    `  ${'--config <file>'.padEnd(width + 2)}YAML or JSON config file (env LOOKOUT_CONFIG)`,
    ...lines,
    `  ${'--print-config'.padEnd(width + 2)}Print the effective config (secrets masked) and exit`,
    `  ${'--version'.padEnd(width + 2)}Print the version and exit`,
    `  ${'--help'.padEnd(width + 2)}Print this help and exit`,
    '',
    'Exit codes: 0 clean stop, 1 failure at run time, 2 invalid configuration or usage.',
  ].join('\n');
}

function parseCommandLine(argv: string[]) {
  const flagOptions: NonNullable<ParseArgsConfig['options']> = {
    config: { type: 'string' },
    'print-config': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
    version: { type: 'boolean', short: 'v' },
  };
  for (const o of options) flagOptions[o.flag] = { type: o.kind === 'boolean' ? 'boolean' : 'string' };
  const { values } = parseArgs({ args: argv, options: flagOptions, allowNegative: true, strict: true });
  const flags: Record<string, string | boolean | undefined> = {};
  for (const o of options) flags[o.key] = values[o.flag] as string | boolean | undefined;
  return { values, flags };
}

const commands: Record<string, (argv: string[]) => number> = { keygen, sign };

async function main(argv: string[]): Promise<number> {
  const command = argv[0] === undefined ? undefined : commands[argv[0]];
  if (command) {
    try {
      return command(argv.slice(1));
    } catch (error) {
      process.stderr.write(`lookout: ${(error as Error).message}\n`);
      return usageExit;
    }
  }
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine(argv);
  } catch (error) {
    process.stderr.write(`lookout: ${(error as Error).message}\nTry 'lookout --help'.\n`);
    return usageExit;
  }
  const { values, flags } = parsed;
  if (values.help) {
    process.stdout.write(`${helpText()}\n`);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`${version}\n`);
    return 0;
  }
  const { loadConfig, maskSecrets } = await import('../config/load.ts');
  const result = loadConfig({ flags, env: process.env, configPath: values.config as string | undefined });
  if (!result.ok) {
    for (const line of result.errors) process.stderr.write(`lookout: invalid config: ${line}\n`);
    return usageExit;
  }
  for (const line of result.warnings) process.stderr.write(`lookout: warning: ${line}\n`);
  if (values['print-config']) {
    process.stdout.write(`${JSON.stringify(maskSecrets(result.config), null, 2)}\n`);
    return 0;
  }
  const config = result.config;
  // Signals are watched before start-up, so a stop that arrives while starting is not lost.
  let stopSignal: NodeJS.Signals | undefined;
  let lookout: Lookout | undefined;
  const stop = (signal: NodeJS.Signals) => {
    if (stopSignal) {
      lookout?.logger.warn('second stop signal, exiting now', { signal });
      process.exit(1);
    }
    stopSignal = signal;
    if (!lookout) return;
    lookout.logger.info('stopping', { signal });
    const forced = setTimeout(() => {
      lookout?.logger.error('drain timed out, exiting', {
        timeoutSeconds: config.shutdown.drainTimeoutSeconds,
      });
      process.exit(1);
    }, config.shutdown.drainTimeoutSeconds * 1000);
    forced.unref();
    lookout.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // Telemetry first: the service's modules (express, winston, http) are imported only after it started.
  const telemetry = await startTelemetry(config, process.env, version);
  if (config.tools.length > 0) resolveLookoutForToolModules();
  try {
    const { startLookout } = await import('../main.ts');
    lookout = await startLookout(config, { telemetry });
  } catch (error) {
    process.stderr.write(`lookout: cannot start: ${(error as Error).message}\n`);
    // Whatever start-up had opened (telemetry exporters, timers) must not keep the process alive.
    const flushed = new Promise((resolve) => setTimeout(resolve, startupFailureFlushMs).unref());
    await Promise.race([telemetry.shutdown().catch(() => undefined), flushed]);
    process.exit(error instanceof StartupError ? usageExit : 1);
  }
  if (stopSignal) {
    const signal = stopSignal;
    stopSignal = undefined;
    stop(signal);
  }
  return -1;
}

main(process.argv.slice(2)).then((code) => {
  if (code >= 0) process.exitCode = code;
});
