import type { Meter } from '@opentelemetry/api';
import type { Request } from 'express';
import type { Logger } from '../logging/logger.ts';
import { attr, metricNames } from '../telemetry/conventions.ts';
import { type AdmissionRejection, admissionRejections, type ConcurrencyGate } from './admission.ts';

/**
 * The admission gauges (requests handled and queued on /mcp) and the rejection counter, and the
 * callback that counts and logs each refused request.
 */
export function admissionTelemetry(
  meter: Meter,
  gate: ConcurrencyGate,
  logger: Logger,
): (reason: AdmissionRejection, req: Request) => void {
  meter
    .createObservableGauge(metricNames.admissionActive, {
      description: 'Requests on /mcp being handled.',
      unit: '{request}',
    })
    .addCallback((result) => result.observe(gate.active));
  meter
    .createObservableGauge(metricNames.admissionQueued, {
      description: 'Requests on /mcp waiting for a slot.',
      unit: '{request}',
    })
    .addCallback((result) => result.observe(gate.queued));
  const rejections = meter.createCounter(metricNames.admissionRejections, {
    description: 'Requests refused before reaching the MCP endpoint, by reason.',
    unit: '{request}',
  });
  for (const reason of admissionRejections) rejections.add(0, { [attr.lookoutAdmissionReason]: reason });
  return (reason, req) => {
    rejections.add(1, { [attr.lookoutAdmissionReason]: reason });
    const refused = { reason, method: req.method, path: req.path, client: req.socket.remoteAddress };
    // Refusing new work is what a drain is for (clients reopen their streams meanwhile): no warning.
    if (reason === 'draining') logger.info('request refused', refused);
    else logger.warn('request refused', refused);
  };
}
