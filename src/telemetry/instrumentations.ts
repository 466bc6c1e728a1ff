import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { HttpInstrumentationConfig } from '@opentelemetry/instrumentation-http';
import type { WinstonInstrumentationConfig } from '@opentelemetry/instrumentation-winston';

type Env = Readonly<Record<string, string | undefined>>;

/** Lets an operator choose instrumentations by name, as auto-instrumentations-node reads it. */
const operatorChoice = 'OTEL_NODE_ENABLED_INSTRUMENTATIONS';

/**
 * The modules the loader hook wraps, so that the `http` instrumentation also patches what ES modules
 * import from `node:http` and `node:https` (a tool's outgoing requests). Wrapping every module loaded
 * after telemetry starts was a large share of start-up; winston is CommonJS, patched through `require`.
 * `undefined` (wrap everything) when the operator chose the instrumentations.
 */
export function patchedModules(env: Env): string[] | undefined {
  return env[operatorChoice] ? undefined : ['http', 'https'];
}

/**
 * Lookout's instrumentations: `http` (outgoing requests only: Lookout makes the server span itself,
 * see http-server.ts), `undici`, `winston` and `runtime-node`, imported one by one rather than through
 * auto-instrumentations-node, which loads all of its several dozen packages whatever is enabled. That
 * package is used only when an operator names other instrumentations in OTEL_NODE_ENABLED_INSTRUMENTATIONS.
 */
export async function createInstrumentations(env: Env, otlpLogs: boolean): Promise<Instrumentation[]> {
  const http: HttpInstrumentationConfig = { disableIncomingRequestInstrumentation: true };
  // Lookout stamps trace ids on log lines itself; the instrumentation only forwards records to the SDK.
  const winston: WinstonInstrumentationConfig = { disableLogCorrelation: true, disableLogSending: !otlpLogs };
  if (env[operatorChoice]) {
    const { getNodeAutoInstrumentations } = await import('@opentelemetry/auto-instrumentations-node');
    return getNodeAutoInstrumentations({
      '@opentelemetry/instrumentation-http': http,
      '@opentelemetry/instrumentation-winston': winston,
    });
  }
  const [httpModule, undiciModule, winstonModule, runtimeModule] = await Promise.all([
    import('@opentelemetry/instrumentation-http'),
    import('@opentelemetry/instrumentation-undici'),
    import('@opentelemetry/instrumentation-winston'),
    import('@opentelemetry/instrumentation-runtime-node'),
  ]);
  return [
    new httpModule.HttpInstrumentation(http),
    new undiciModule.UndiciInstrumentation(),
    new winstonModule.WinstonInstrumentation(winston),
    new runtimeModule.RuntimeNodeInstrumentation(),
  ];
}
