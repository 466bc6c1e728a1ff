import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace';

/**
 * The sampler `OTEL_TRACES_SAMPLER` names, as the SDK builds it. Lookout builds it rather than leaving
 * it to NodeSDK so that it can count the spans each decision starts (see sdk-counts.ts).
 */
export function standardSampler(name: string, arg: number | undefined): Sampler {
  const ratio = () => new TraceIdRatioBasedSampler(arg ?? 1);
  switch (name) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio();
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio() });
    default:
      throw new Error(
        `OTEL_TRACES_SAMPLER=${name} is not supported; use always_on, always_off, traceidratio or their parentbased_ forms`,
      );
  }
}
