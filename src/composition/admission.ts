import type { Meter } from '@opentelemetry/api';
import type { LookoutConfig } from '../config/schema.ts';
import { ClientRateLimit, ConcurrencyGate } from '../http/admission.ts';
import { admissionTelemetry } from '../http/admission-telemetry.ts';
import { Authenticator } from '../http/auth.ts';
import { isLoopbackAddress } from '../http/origin.ts';
import type { Logger } from '../logging/logger.ts';

/** What /mcp admits: the concurrency gate, the per-client rate limit, and how refusals are counted. */
export function admission(config: LookoutConfig, meter: Meter, logger: Logger) {
  const gate = new ConcurrencyGate(
    config.admission.maxConcurrent,
    config.admission.queue,
    config.admission.queueTimeoutSeconds * 1000,
  );
  return {
    gate,
    rateLimit:
      config.admission.ratePerSecond > 0
        ? new ClientRateLimit(config.admission.ratePerSecond, config.admission.burst)
        : undefined,
    rejected: admissionTelemetry(meter, gate, logger),
  };
}

/** The configured authentication; serving every tool to anyone on a non-loopback interface is logged. */
export function authenticatorFor(config: LookoutConfig, logger: Logger): Authenticator {
  const authenticator = new Authenticator(config.auth);
  if (!authenticator.enabled && !isLoopbackAddress(config.host)) {
    logger.warn(
      'no authentication configured on a non-loopback interface: anyone who can reach it can call every tool',
      { host: config.host },
    );
  }
  return authenticator;
}
