import type { Agent, RequestOptions } from 'node:http';
import {
  type Attributes,
  context,
  type Histogram,
  type Meter,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { redactQuery } from '../redaction/secrets.ts';
import { attr, metricNames, operationDurationBuckets, units } from './conventions.ts';

/**
 * Agents whose requests Lookout traces itself: the `http` instrumentation leaves them alone
 * (`ignoreOutgoingRequestHook`), so each request gets one client span, not two.
 */
const selfTracedAgents = new WeakSet<Agent>();

export function isSelfTraced(options: RequestOptions): boolean {
  return options.agent instanceof Object && selfTracedAgents.has(options.agent as Agent);
}

/** Where a client's requests go, as its spans name it: worked out once per client, not per request. */
export interface HttpTarget {
  readonly address: string;
  readonly port: number;
  /** `url.full` without credentials, and with secret query values masked. */
  readonly full: string;
}

export function httpTarget(url: URL): HttpTarget {
  const query = url.search.length > 1 ? `?${redactQuery(url.search.slice(1))}` : '';
  return {
    address: url.hostname,
    port: url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port),
    full: `${url.protocol}//${url.host}${url.pathname}${query}`,
  };
}

/** One HTTP request's client span, and what its headers carry of it. */
export interface HttpClientRequest {
  /** `traceparent` (and `tracestate`) of the request's span. */
  readonly headers: Record<string, string>;
  /** The response's status arrived. */
  responded(status: number): void;
  /** The exchange is over (the response body read, or the request failed with `error`). */
  end(error?: NodeJS.ErrnoException): void;
}

/**
 * HTTP client spans (kind CLIENT) and `http.client.request.duration` points for the requests of
 * Lookout's own HTTP clients (the upstream transport), as the HTTP semantic conventions name them.
 * Made here rather than by the `http` instrumentation, whose generic wrapping of `http.request` (the
 * emitters bound to the context, the options copied and parsed) was a measurable share of a proxied
 * call's CPU (docs/performance.md).
 */
export class HttpClientTelemetry {
  readonly #tracer: Tracer;
  readonly #duration: Histogram;

  constructor(tracer: Tracer, meter: Meter) {
    this.#tracer = tracer;
    this.#duration = meter.createHistogram(metricNames.httpClientRequestDuration, {
      description: 'Duration of HTTP client requests.',
      unit: units.seconds,
      advice: { explicitBucketBoundaries: [...operationDurationBuckets] },
    });
  }

  /** Marks the agent whose requests go through `request` (the instrumentation skips them). */
  adopt(agent: Agent): void {
    selfTracedAgents.add(agent);
  }

  /** The span of one request to `target`, a child of the active context. */
  request(method: string, target: HttpTarget): HttpClientRequest {
    const metricAttributes: Attributes = {
      [attr.httpRequestMethod]: method,
      [attr.serverAddress]: target.address,
      [attr.serverPort]: target.port,
    };
    const span: Span = this.#tracer.startSpan(method, {
      kind: SpanKind.CLIENT,
      attributes: { ...metricAttributes, [attr.urlFull]: target.full },
    });
    const headers: Record<string, string> = {};
    propagation.inject(trace.setSpan(context.active(), span), headers);
    const started = performance.now();
    let ended = false;
    return {
      headers,
      responded: (status) => {
        span.setAttribute(attr.httpResponseStatusCode, status);
        metricAttributes[attr.httpResponseStatusCode] = status;
        if (status >= 400) {
          span.setAttribute(attr.errorType, String(status));
          span.setStatus({ code: SpanStatusCode.ERROR });
          metricAttributes[attr.errorType] = String(status);
        }
      },
      end: (error) => {
        if (ended) return;
        ended = true;
        if (error) {
          const type = error.code ?? error.name;
          span.setAttribute(attr.errorType, type);
          span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
          metricAttributes[attr.errorType] = type;
        }
        span.end();
        this.#duration.record((performance.now() - started) / 1000, metricAttributes);
      },
    };
  }
}
