import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { HttpInstrumentationConfig } from '@opentelemetry/instrumentation-http';

type Env = Readonly<Record<string, string | undefined>>;

/** Lets an operator choose instrumentations by name, as auto-instrumentations-node reads it. */
const operatorChoice = 'OTEL_NODE_ENABLED_INSTRUMENTATIONS';

/**
 * The modules the loader hook wraps, so that the `http` instrumentation also patches what ES modules
 * import from `node:http` and `node:https` (a tool's outgoing requests). Wrapping every module loaded
 * after telemetry starts was a large share of start-up.
 * `undefined` (wrap everything) when the operator chose the instrumentations.
 */
export function patchedModules(env: Env): string[] | undefined {
  return env[operatorChoice] ? undefined : ['http', 'https'];
}

/**
 * Lookout's instrumentations: `http` (outgoing requests only; the upstream transport's requests do not
 * pass through it, as they are sent with `ClientRequest` itself: Lookout makes those spans and the server
 * span itself, see http-client.ts and http-server.ts), `undici`
 * and `runtime-node`, imported one by one rather than through auto-instrumentations-node, which loads
 * all of its several dozen packages whatever is enabled. That
 * package is used only when an operator names other instrumentations in OTEL_NODE_ENABLED_INSTRUMENTATIONS.
 * Not `winston`: Lookout's log sink stamps trace ids and hands records to the logs API itself.
 */
export async function createInstrumentations(env: Env): Promise<Instrumentation[]> {
  const http: HttpInstrumentationConfig = {
    disableIncomingRequestInstrumentation: true,
  };
  if (env[operatorChoice]) {
    const { getNodeAutoInstrumentations } = await import('@opentelemetry/auto-instrumentations-node');
    return getNodeAutoInstrumentations({
      '@opentelemetry/instrumentation-http': http,
      // Would add a second OTLP copy of every record and a second set of trace ids.
      '@opentelemetry/instrumentation-winston': { disableLogCorrelation: true, disableLogSending: true },
    });
  }
  const [httpModule, undiciModule, runtimeModule] = await Promise.all([
    import('@opentelemetry/instrumentation-http'),
    import('@opentelemetry/instrumentation-undici'),
    import('@opentelemetry/instrumentation-runtime-node'),
  ]);
  return [
    new httpModule.HttpInstrumentation(http),
    new undiciModule.UndiciInstrumentation(),
    new runtimeModule.RuntimeNodeInstrumentation(),
  ];
}
