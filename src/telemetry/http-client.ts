import {
  context,
  type Histogram,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { redactQuery } from '../redaction/secrets.ts';
import { AttributeSets } from './attribute-sets.ts';
import { attr, metricNames, operationDurationBuckets, units } from './conventions.ts';
import type { HistogramFactory } from './own-histograms.ts';

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

/** One HTTP request's client span: what its headers carry of it went into the carrier it was started with. */
export interface HttpClientRequest {
  /** The response's status arrived. */
  responded(status: number): void;
  /** The exchange is over (the response body read, or the request failed with `error`). */
  end(error?: NodeJS.ErrnoException): void;
}

/** A target's span and metric attribute sets, built once per method, status and error type. */
interface TargetSets {
  readonly span: AttributeSets;
  readonly metrics: AttributeSets;
}

class TracedRequest implements HttpClientRequest {
  readonly #span: Span;
  readonly #duration: Histogram;
  readonly #sets: AttributeSets;
  readonly #method: string;
  readonly #started = performance.now();
  #status: number | undefined;
  #errorType: string | undefined;
  #ended = false;

  constructor(span: Span, duration: Histogram, sets: AttributeSets, method: string) {
    this.#span = span;
    this.#duration = duration;
    this.#sets = sets;
    this.#method = method;
  }

  responded(status: number): void {
    this.#status = status;
    this.#span.setAttribute(attr.httpResponseStatusCode, status);
    if (status >= 400) {
      this.#errorType = String(status);
      this.#span.setAttribute(attr.errorType, this.#errorType);
      this.#span.setStatus({ code: SpanStatusCode.ERROR });
    }
  }

  end(error?: NodeJS.ErrnoException): void {
    if (this.#ended) return;
    this.#ended = true;
    if (error) {
      this.#errorType = error.code ?? error.name;
      this.#span.setAttribute(attr.errorType, this.#errorType);
      this.#span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
    }
    this.#span.end();
    this.#duration.record(
      (performance.now() - this.#started) / 1000,
      this.#sets.get(this.#method, this.#status, this.#errorType, undefined),
    );
  }
}

/**
 * HTTP client spans (kind CLIENT) and `http.client.request.duration` points for the requests of
 * Lookout's own HTTP clients (the upstream transport), as the HTTP semantic conventions name them.
 * Made here rather than by the `http` instrumentation, whose generic wrapping of `http.request` (the
 * emitters bound to the context, the options copied and parsed) was a measurable share of a proxied
 * call's CPU (docs/performance.md): the transport sends with `ClientRequest`, which it does not wrap.
 */
export class HttpClientTelemetry {
  readonly #tracer: Tracer;
  readonly #duration: Histogram;
  readonly #targets = new WeakMap<HttpTarget, TargetSets>();

  constructor(tracer: Tracer, histograms: HistogramFactory) {
    this.#tracer = tracer;
    this.#duration = histograms(metricNames.httpClientRequestDuration, {
      description: 'Duration of HTTP client requests.',
      unit: units.seconds,
      boundaries: operationDurationBuckets,
    });
  }

  /**
   * The span of one request to `target`, a child of the active context; its W3C trace context goes
   * into `carrier` (the request's headers).
   */
  request(method: string, target: HttpTarget, carrier: Record<string, string>): HttpClientRequest {
    const parent = context.active();
    const sets = this.#setsOf(target);
    const span = this.#tracer.startSpan(
      method,
      { kind: SpanKind.CLIENT, attributes: sets.span.get(method, undefined, undefined, undefined) },
      parent,
    );
    propagation.inject(trace.setSpan(parent, span), carrier);
    return new TracedRequest(span, this.#duration, sets.metrics, method);
  }

  #setsOf(target: HttpTarget): TargetSets {
    let sets = this.#targets.get(target);
    if (sets) return sets;
    const base = {
      [attr.serverAddress]: target.address,
      [attr.serverPort]: target.port,
    };
    sets = {
      span: new AttributeSets((method) => ({
        [attr.httpRequestMethod]: method,
        ...base,
        [attr.urlFull]: target.full,
      })),
      metrics: new AttributeSets((method, status, errorType) => ({
        [attr.httpRequestMethod]: method,
        ...base,
        ...(status !== undefined && { [attr.httpResponseStatusCode]: status }),
        ...(errorType !== undefined && { [attr.errorType]: errorType }),
      })),
    };
    this.#targets.set(target, sets);
    return sets;
  }
}
