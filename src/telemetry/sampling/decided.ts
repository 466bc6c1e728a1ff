import { type Context, createContextKey } from '@opentelemetry/api';
import type { SamplingResult } from '@opentelemetry/sdk-trace';

const decisionKey = createContextKey('lookout.sampling.decision');

/**
 * A context in which the sampler answers `result` for the span started in it, without deciding again:
 * for spans of an exchange whose decision was made before they were (see exchange-sampling.ts).
 * Only the span started in this context: its children are parented on a context without it.
 */
export function withDecision(parent: Context, result: SamplingResult): Context {
  return parent.setValue(decisionKey, result);
}

export function decisionIn(context: Context): SamplingResult | undefined {
  return context.getValue(decisionKey) as SamplingResult | undefined;
}
