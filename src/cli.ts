#!/usr/bin/env node
import { readFileSync, writeFileSync } from 'node:fs';
import { enableCompileCache } from 'node:module';
import { join } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import { options } from './config/options.ts';
import { StartupError } from './errors/catalog.ts';
import type { Lookout } from './main.ts';
import { generateSigningKeys, keyId, signModule } from './security/signing.ts';
import { startTelemetry } from './telemetry/bootstrap.ts';
import { version } from './version.ts';

const usageExit = 2;
/** How long a failed start-up waits for telemetry to flush before exiting. */
const startupFailureFlushMs = 2000;

// V8's code cache on disk (in os.tmpdir() unless NODE_COMPILE_CACHE names a directory): every start
// after the first skips compiling most modules, a large share of start-up. The config loader, the
// telemetry SDK and the service are imported dynamically, after this line, so they are cached too.
enableCompileCache();

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

/** `lookout keygen [--out <dir>]`: an Ed25519 key pair for signing tool modules. */
function keygen(argv: string[]): number {
  const { values } = parseArgs({
    args: argv,
    options: { out: { type: 'string', default: '.' } },
    strict: true,
  });
  const keys = generateSigningKeys();
  const privatePath = join(values.out, 'lookout-signing.key');
  const publicPath = join(values.out, 'lookout-signing.pub');
  writeFileSync(privatePath, keys.privateKey, { mode: 0o600, flag: 'wx' });
  writeFileSync(publicPath, keys.publicKey, { flag: 'wx' });
  process.stdout.write(
    `key ${keyId(keys.publicKey)}\nprivate key: ${privatePath} (keep it secret)\npublic key: ${publicPath} (list it under security.signedModules.trustedKeys)\n`,
  );
  return 0;
}

/** `lookout sign <module> --key <private key>`: writes `<module>.sig`. */
function sign(argv: string[]): number {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { key: { type: 'string' } },
    allowPositionals: true,
    strict: true,
  });
  if (positionals.length !== 1 || values.key === undefined) {
    process.stderr.write('usage: lookout sign <module> --key <private key file>\n');
    return usageExit;
  }
  const signature = signModule(positionals[0] as string, readFileSync(values.key, 'utf8'));
  process.stdout.write(`${signature}\n`);
  return 0;
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
  const { loadConfig, maskSecrets } = await import('./config/load.ts');
  const result = loadConfig({ flags, env: process.env, configPath: values.config as string | undefined });
  if (!result.ok) {
    for (const line of result.errors) process.stderr.write(`lookout: invalid config: ${line}\n`);
    return usageExit;
  }
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
  try {
    const { startLookout } = await import('./main.ts');
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
