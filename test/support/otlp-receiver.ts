import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

/** OTLP/JSON as the exporters send it (only the parts the tests read). */
export interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
}
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: OtlpAttribute[];
  links?: { traceId: string; spanId: string }[];
  status?: { code?: number; message?: string };
}
export interface OtlpLogRecord {
  body?: { stringValue?: string };
  traceId?: string;
  spanId?: string;
  severityText?: string;
}
export interface OtlpMetric {
  name: string;
  histogram?: {
    dataPoints: { attributes: OtlpAttribute[]; count: string | number }[];
    /** 1 delta, 2 cumulative. */
    aggregationTemporality?: number;
  };
  sum?: { dataPoints: { attributes: OtlpAttribute[]; asInt?: string | number; asDouble?: number }[] };
}

/** An instrumentation scope as one export named it, with what it carried. */
export interface OtlpScope {
  readonly signal: 'traces' | 'metrics';
  readonly name: string;
  readonly version: string | undefined;
  readonly schemaUrl: string | undefined;
  /** Span names, or metric names. */
  readonly names: string[];
}

interface OtlpScopeBlock {
  scope?: { name?: string; version?: string };
  schemaUrl?: string;
}

function scopeOf(signal: OtlpScope['signal'], block: OtlpScopeBlock, names: string[]): OtlpScope {
  return {
    signal,
    name: block.scope?.name ?? '',
    version: block.scope?.version || undefined,
    schemaUrl: block.schemaUrl || undefined,
    names,
  };
}

export function attribute(
  attributes: OtlpAttribute[] | undefined,
  key: string,
): string | number | boolean | undefined {
  const value = attributes?.find((a) => a.key === key)?.value;
  if (!value) return undefined;
  if (value.intValue !== undefined) return Number(value.intValue);
  return value.stringValue ?? value.boolValue ?? value.doubleValue;
}

/** A real OTLP/HTTP (JSON) endpoint on 127.0.0.1 that decodes and keeps what it receives. */
export class OtlpReceiver {
  readonly spans: OtlpSpan[] = [];
  readonly logs: OtlpLogRecord[] = [];
  /** Every metrics export, in order; a cumulative metric's last export holds its totals. */
  readonly metricExports: OtlpMetric[][] = [];
  readonly resources: OtlpAttribute[][] = [];
  /** Every scope block of every trace and metric export, in arrival order. */
  readonly scopes: OtlpScope[] = [];
  /** How many spans and log records each export request carried, in arrival order. */
  readonly batchSizes = { traces: [] as number[], logs: [] as number[] };
  /** Every export request's path and headers, in arrival order. */
  readonly requests: { path: string; headers: IncomingHttpHeaders }[] = [];
  #server: Server | undefined;

  async start(): Promise<string> {
    this.#server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        this.requests.push({ path: req.url ?? '', headers: req.headers });
        const raw = Buffer.concat(chunks);
        const body = JSON.parse(
          (req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw).toString('utf8'),
        );
        if (req.url === '/v1/traces') {
          const before = this.spans.length;
          for (const r of body.resourceSpans) {
            this.resources.push(r.resource.attributes);
            for (const s of r.scopeSpans) {
              this.spans.push(...s.spans);
              this.scopes.push(
                scopeOf(
                  'traces',
                  s,
                  s.spans.map((span: OtlpSpan) => span.name),
                ),
              );
            }
          }
          this.batchSizes.traces.push(this.spans.length - before);
        } else if (req.url === '/v1/logs') {
          const before = this.logs.length;
          for (const r of body.resourceLogs) for (const s of r.scopeLogs) this.logs.push(...s.logRecords);
          this.batchSizes.logs.push(this.logs.length - before);
        } else if (req.url === '/v1/metrics') {
          const scopeMetrics: (OtlpScopeBlock & { metrics: OtlpMetric[] })[] = body.resourceMetrics.flatMap(
            (r: { scopeMetrics: (OtlpScopeBlock & { metrics: OtlpMetric[] })[] }) => r.scopeMetrics,
          );
          for (const s of scopeMetrics)
            this.scopes.push(
              scopeOf(
                'metrics',
                s,
                s.metrics.map((m) => m.name),
              ),
            );
          this.metricExports.push(scopeMetrics.flatMap((s) => s.metrics));
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      });
    });
    this.#server.listen(0, '127.0.0.1');
    await once(this.#server, 'listening');
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** The latest exported version of a metric. */
  lastMetric(name: string): OtlpMetric | undefined {
    for (let i = this.metricExports.length - 1; i >= 0; i--) {
      const metric = this.metricExports[i]?.find((m) => m.name === name);
      if (metric) return metric;
    }
    return undefined;
  }

  close(): Promise<void> {
    return new Promise((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }
}
