import type { LookoutConfig } from '../config/schema.ts';
import { adminScope, liveAccess } from '../http/admin-access.ts';
import { isLoopbackAddress } from '../http/origin.ts';
import type { Health } from '../lifecycle/health.ts';
import type { ResourceDefinition } from '../tools/api.ts';
import { healthResources } from '../tools/health-resources.ts';
import { version } from '../version.ts';

/**
 * The health:// resources. Their upstream details are admin data: they follow the live view's rule
 * (with auth, the admin scope; without, a loopback listener).
 */
export function healthDefinitions(
  config: LookoutConfig,
  parts: {
    readonly health: Health;
    readonly startedAt: number;
    readonly authEnabled: boolean;
    readonly upstreams: () => unknown;
  },
): ResourceDefinition[] {
  const access = liveAccess(isLoopbackAddress(config.host), parts.authEnabled);
  return healthResources({
    health: parts.health,
    version,
    startedAt: parts.startedAt,
    upstreams: parts.upstreams,
    mayReadDetails: (context) =>
      access === 'open' || (access === 'admin' && context.scopes?.includes(adminScope) === true),
  });
}
