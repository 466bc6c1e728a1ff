import { type Meter, type MeterProvider, metrics, type Tracer, trace } from '@opentelemetry/api';
import type { LookoutScope } from './conventions.ts';

/** Lookout's tracer, with its scope's schema URL (the API's `trace.getTracer` takes no options; a provider's does). */
export function lookoutTracer(scope: LookoutScope): Tracer {
  return trace.getTracerProvider().getTracer(scope.name, scope.version, { schemaUrl: scope.schemaUrl });
}

/** Lookout's meter, with its scope's schema URL, from `provider` (the registered one by default). */
export function lookoutMeter(
  scope: LookoutScope,
  provider: MeterProvider = metrics.getMeterProvider(),
): Meter {
  return provider.getMeter(scope.name, scope.version, { schemaUrl: scope.schemaUrl });
}
