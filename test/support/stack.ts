import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../support/ports.ts';
import { toolPath } from '../../support/tools.ts';
import { type Service, startService } from './services.ts';

export const repo = fileURLToPath(new URL('../../', import.meta.url));

export interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: { refType: string; spanID: string }[];
  tags: { key: string; value: unknown }[];
}

export function tag(span: JaegerSpan, key: string): unknown {
  return span.tags.find((t) => t.key === key)?.value;
}

export function parentOf(span: JaegerSpan): string | undefined {
  return span.references.find((r) => r.refType === 'CHILD_OF')?.spanID;
}

/** Jaeger v2 with monitoring/jaeger/config.yaml (in-memory storage), every port free and on loopback. */
export interface Jaeger {
  readonly service: Service;
  /** host:port of its OTLP gRPC receiver. */
  readonly otlpGrpc: string;
  /** The trace's spans from the query API, or undefined while Jaeger does not have it. */
  trace(traceId: string): Promise<JaegerSpan[] | undefined>;
}

export async function startJaeger(): Promise<Jaeger> {
  const [grpc, http, query, queryGrpc, health, telemetry] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const service = await startService(
    'jaeger',
    toolPath('jaeger'),
    ['--config', join(repo, 'monitoring/jaeger/config.yaml')],
    {
      env: {
        JAEGER_OTLP_GRPC_ENDPOINT: `127.0.0.1:${grpc}`,
        JAEGER_OTLP_HTTP_ENDPOINT: `127.0.0.1:${http}`,
        JAEGER_QUERY_HTTP_ENDPOINT: `127.0.0.1:${query}`,
        JAEGER_QUERY_GRPC_ENDPOINT: `127.0.0.1:${queryGrpc}`,
        JAEGER_HEALTH_ENDPOINT: `127.0.0.1:${health}`,
        JAEGER_TELEMETRY_HOST: '127.0.0.1',
        JAEGER_TELEMETRY_PORT: String(telemetry),
      },
      readyUrl: `http://127.0.0.1:${health}/status`,
    },
  );
  return {
    service,
    otlpGrpc: `127.0.0.1:${grpc}`,
    async trace(traceId) {
      const res = await fetch(`http://127.0.0.1:${query}/api/traces/${traceId}`);
      if (res.status === 404) return undefined;
      if (!res.ok) throw new Error(`jaeger /api/traces/${traceId}: ${res.status}`);
      const body = (await res.json()) as { data: { spans: JaegerSpan[] }[] };
      return body.data[0]?.spans;
    },
  };
}

/** The loopback ports of one collector; fixed once chosen, so a restarted collector listens where it did. */
export interface CollectorPorts {
  readonly grpc: number;
  readonly http: number;
  readonly exporter: number;
  readonly telemetry: number;
  readonly health: number;
}

export async function collectorPorts(): Promise<CollectorPorts> {
  return {
    grpc: await freePort(),
    http: await freePort(),
    exporter: await freePort(),
    telemetry: await freePort(),
    health: await freePort(),
  };
}

/** Runs the collector built by `npm run tools` with one of otel-collector/'s configs. */
export function startCollector(
  config: 'config.yaml' | 'config.gateway.yaml',
  ports: CollectorPorts,
  env: Record<string, string>,
): Promise<Service> {
  return startService(
    'collector',
    toolPath('otelcol-lookout'),
    ['--config', join(repo, 'otel-collector', config)],
    {
      env: {
        OTLP_GRPC_ENDPOINT: `127.0.0.1:${ports.grpc}`,
        OTLP_HTTP_ENDPOINT: `127.0.0.1:${ports.http}`,
        PROMETHEUS_EXPORTER_ENDPOINT: `127.0.0.1:${ports.exporter}`,
        COLLECTOR_TELEMETRY_HOST: '127.0.0.1',
        COLLECTOR_TELEMETRY_PORT: String(ports.telemetry),
        COLLECTOR_HEALTH_ENDPOINT: `127.0.0.1:${ports.health}`,
        ...env,
      },
      readyUrl: `http://127.0.0.1:${ports.health}/`,
    },
  );
}

/** One metric's value summed over the series of a Prometheus text exposition whose labels include `match`. */
export async function scrapeSum(url: string, name: string, match = ''): Promise<number> {
  const text = await (await fetch(url)).text();
  return text
    .split('\n')
    .filter((line) => (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) && line.includes(match))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}
