import { register } from 'node:module';
import type { LookoutConfig } from '../config/schema.ts';
import { patchedModules } from './instrumentations.ts';
import type { TelemetryRuntime } from './runtime.ts';

const disabled: TelemetryRuntime = {
  enabled: false,
  otlpLogs: false,
  sampling: () => ({ sampler: 'telemetry disabled' }),
  attachLogger: () => {},
  shutdown: () => Promise.resolve(),
};

function writeStartupError(message: string): void {
  process.stderr.write(
    `${JSON.stringify({ level: 'error', message, timestamp: new Date().toISOString(), component: 'telemetry' })}\n`,
  );
}

/**
 * The ESM loader hooks that let instrumentations patch modules as they load, for the modules named
 * (all when `include` is undefined). In-thread synchronous hooks where Node supports them; the
 * asynchronous ones (a loader thread, one round trip per module resolved — seconds of start-up) otherwise.
 */
async function registerLoaderHooks(include: string[] | undefined): Promise<void> {
  const sync = await import('import-in-the-middle/register-hooks.mjs');
  const options = include ? { include } : undefined;
  if (sync.supportsSyncHooks()) sync.register(options);
  else register('@opentelemetry/instrumentation/hook.mjs', import.meta.url, { data: options });
}

/**
 * Starts OpenTelemetry before anything instrumented is imported: call it, then import the service.
 * It registers the ESM loader hook (so http and friends can be patched when they load) and
 * starts the NodeSDK. A broken telemetry setup is logged and the service runs without telemetry.
 */
export async function startTelemetry(
  config: LookoutConfig,
  env: Readonly<Record<string, string | undefined>>,
  version: string,
): Promise<TelemetryRuntime> {
  if (!config.telemetry.enabled || env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return disabled;
  try {
    await registerLoaderHooks(patchedModules(env));
    const { startSdk } = await import('./sdk.ts');
    return await startSdk(config, env, version);
  } catch (error) {
    writeStartupError(`telemetry disabled: it could not start (${(error as Error).message})`);
    return disabled;
  }
}
