import type { Meter } from '@opentelemetry/api';
import { attr, metricNames, units } from './conventions.ts';

/**
 * The process's CPU time and resident memory, as the semconv process metrics name them. The runtime
 * instrumentation covers the event loop, heap and GC, but not these two, which capacity planning needs.
 */
export function registerProcessMetrics(meter: Meter): void {
  meter
    .createObservableCounter(metricNames.processCpuTime, {
      description: 'CPU time used by the process, by mode.',
      unit: units.seconds,
    })
    .addCallback((result) => {
      const { user, system } = process.cpuUsage();
      result.observe(user / 1e6, { [attr.cpuMode]: 'user' });
      result.observe(system / 1e6, { [attr.cpuMode]: 'system' });
    });
  meter
    .createObservableUpDownCounter(metricNames.processMemoryUsage, {
      description: 'Resident set size of the process.',
      unit: units.bytes,
    })
    .addCallback((result) => result.observe(process.memoryUsage.rss()));
}
