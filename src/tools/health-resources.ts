import type { Health } from '../lifecycle/health.ts';
import { defineResource, type HandlerContext, type ResourceDefinition } from './api.ts';

export interface HealthResourceDeps {
  readonly health: Health;
  readonly version: string;
  readonly startedAt: number;
  /** Each upstream's state, breaker, restarts and last error: admin data, as in the live view. */
  readonly upstreams: () => unknown;
  /** Whether this caller may see the upstreams' details (the live view's access rule). */
  readonly mayReadDetails: (context: HandlerContext) => boolean;
}

const json = (value: unknown) => JSON.stringify(value);

/**
 * The health probes as MCP resources, for clients that reach Lookout only over MCP: `health://live` and
 * `health://ready` hold what `GET /health/live` and `/health/ready` answer (a failing check is
 * `status: "fail"` in the text, the read itself succeeds); `health://status` adds version, uptime and,
 * for a caller who may see the live view, each upstream's details.
 */
export function healthResources(deps: HealthResourceDeps): ResourceDefinition[] {
  const { health } = deps;
  const common = { mimeType: 'application/json', uncacheable: true } as const;
  return [
    defineResource({
      ...common,
      uri: 'health://live',
      name: 'lookout.health.live',
      title: 'Lookout liveness',
      description: 'What GET /health/live answers: the process is alive.',
      read: () => json(health.live()),
    }),
    defineResource({
      ...common,
      uri: 'health://ready',
      name: 'lookout.health.ready',
      title: 'Lookout readiness',
      description: 'What GET /health/ready answers: serving, and every required upstream ready.',
      read: () => json(health.ready()),
    }),
    defineResource({
      ...common,
      uri: 'health://status',
      name: 'lookout.health.status',
      title: 'Lookout status',
      description:
        'Readiness with version, uptime and probe results; upstream details (state, breaker, restarts, last error) for admins.',
      read: (context) => {
        const ready = health.ready();
        const details = deps.mayReadDetails(context);
        return json({
          status: ready.status,
          phase: ready.phase,
          version: deps.version,
          uptimeSeconds: Math.round((Date.now() - deps.startedAt) / 1000),
          probes: {
            live: health.live().status,
            ready: ready.status,
            startup: health.startup().status,
          },
          checks: ready.checks,
          ...(details
            ? { upstreams: deps.upstreams() }
            : { upstreams: 'hidden: needs the admin scope (or, without auth, a loopback listener)' }),
        });
      },
    }),
  ];
}
