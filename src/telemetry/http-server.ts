import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import {
  type Attributes,
  type Context,
  context,
  createContextKey,
  type HrTime,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { millisToHrTime, type RPCMetadata, RPCType, setRPCMetadata } from '@opentelemetry/core';
import { SamplingDecision, type SamplingResult } from '@opentelemetry/sdk-trace';
import { redactQuery } from '../redaction/secrets.ts';
import { AttributeSets } from './attribute-sets.ts';
import { attr, metricNames, operationDurationBuckets, units } from './conventions.ts';
import { LinkedContext } from './linked-context.ts';
import type { HistogramFactory } from './own-histograms.ts';
import { withDecision } from './sampling/decided.ts';
import type { ExchangeSampling } from './sampling/exchange-sampling.ts';

/** Scrapes and probes are neither traced nor measured: they would drown the requests that matter. */
function isUntraced(path: string): boolean {
  return path === '/metrics' || path.startsWith('/health/');
}

const httpMethods: ReadonlySet<string> = new Set([
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'DELETE',
  'CONNECT',
  'OPTIONS',
  'TRACE',
  'PATCH',
  'QUERY',
]);

const scheme = 'http';
const defaultPort = { http: 80, https: 443 } as const;

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** A parameter of the first element of a `Forwarded` header (RFC 7239), unquoted. */
function forwardedParameter(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const pair of (header.split(',', 1)[0] ?? '').split(';')) {
    const equals = pair.indexOf('=');
    if (equals > 0 && pair.slice(0, equals).trim().toLowerCase() === name)
      return pair
        .slice(equals + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1');
  }
  return undefined;
}

/** `host[:port]` or `[v6][:port]`; the port defaults to the scheme's when the header has none. */
function hostAndPort(value: string, proto: string): { host: string; port: number | undefined } {
  const portStart = value.startsWith('[') ? value.indexOf(']') + 1 : value.lastIndexOf(':');
  const hasPort = portStart > 0 && value[portStart] === ':';
  const port = hasPort ? Number(value.slice(portStart + 1)) : defaultPort[proto as keyof typeof defaultPort];
  return {
    host: hasPort ? value.slice(0, portStart) : value,
    port: Number.isInteger(port) ? port : undefined,
  };
}

/** An address without its port, and an IPv6 one without its brackets. */
function withoutPort(address: string): string {
  if (address.startsWith('[')) return address.slice(1, address.indexOf(']'));
  const colon = address.indexOf(':');
  return colon !== -1 && colon === address.lastIndexOf(':') ? address.slice(0, colon) : address;
}

/** The HTTP semantic conventions' request attributes; behind a proxy, what `Forwarded` and `X-Forwarded-*` say. */
function requestAttributes(req: IncomingMessage, method: string, path: string, query: string | undefined) {
  const { headers, socket } = req;
  const attributes: Attributes = {
    [attr.httpRequestMethod]: method,
    [attr.urlScheme]: scheme,
    [attr.urlPath]: path,
    [attr.networkProtocolVersion]: req.httpVersion,
    [attr.networkPeerAddress]: socket.remoteAddress,
    [attr.networkPeerPort]: socket.remotePort,
    [attr.userAgentOriginal]: headers['user-agent'],
  };
  if (query !== undefined) attributes[attr.urlQuery] = redactQuery(query);
  if (method !== req.method) attributes[attr.httpRequestMethodOriginal] = req.method;
  const forwarded = headers.forwarded;
  const proto = forwardedParameter(forwarded, 'proto') ?? firstHeader(headers['x-forwarded-proto']) ?? scheme;
  const host =
    forwardedParameter(forwarded, 'host') ?? firstHeader(headers['x-forwarded-host']) ?? headers.host;
  if (host) {
    const server = hostAndPort(host, proto);
    attributes[attr.serverAddress] = server.host;
    if (server.port !== undefined) attributes[attr.serverPort] = server.port;
  }
  const client =
    forwardedParameter(forwarded, 'for') ?? firstHeader(headers['x-forwarded-for'])?.split(',', 1)[0]?.trim();
  attributes[attr.clientAddress] = client ? withoutPort(client) : socket.remoteAddress;
  return attributes;
}

const errorStatus = { code: SpanStatusCode.ERROR } as const;

/** The `http.server.request.duration` attributes of a (method, HTTP version, status, route). */
function requestDurationAttributes(
  method: string | number | undefined,
  httpVersion: string | number | undefined,
  status: string | number | undefined,
  route: string | number | undefined,
): Attributes {
  const attributes: Attributes = {
    [attr.httpRequestMethod]: method,
    [attr.urlScheme]: scheme,
    [attr.networkProtocolVersion]: httpVersion,
    [attr.httpResponseStatusCode]: status,
  };
  if (route !== undefined) attributes[attr.httpRoute] = route;
  if (typeof status === 'number' && status >= 500) attributes[attr.errorType] = String(status);
  return attributes;
}

const exchangeKey = createContextKey('lookout.exchange');

/** The root context, as the parent of contexts that are set a few values per request. */
const linkedRoot = LinkedContext.over(ROOT_CONTEXT);

/**
 * A POST to the MCP endpoint, without trace context of its own, whose HTTP server span waits for the
 * sampling decision of the MCP requests it carries (see sampling/exchange-sampling.ts). Its ids are
 * drawn on arrival; its span is recorded, from the arrival on, only once a request keeps it.
 */
export class PendingExchange {
  readonly traceId: string;
  readonly spanId: string;
  /** `performance.now()` on arrival: the span's true start time. */
  readonly started: number;
  /**
   * Turns `performance.now()` readings into wall-clock times, one offset for all the exchange's spans
   * (the SDK takes one per span, from the millisecond clock): spans made after the fact keep their order.
   */
  readonly #epochOffset: number;
  readonly sampling: ExchangeSampling;
  /** The recording HTTP server span, once the exchange is kept. */
  span: Span | undefined;
  /** Whether a request of the exchange was decided, kept or not. */
  decided = false;
  /**
   * The request, until the response has closed (a span made after that would never end). Let go then:
   * the exchange stays reachable from contexts that outlive it a little, and a request reachable from
   * them survives young-generation collections and the next requests with it (profiled: scavenges
   * several times longer, the heap growing between full collections).
   */
  #req: IncomingMessage | undefined;
  readonly #method: string;
  readonly #path: string;
  readonly #query: string | undefined;

  constructor(
    sampling: ExchangeSampling,
    req: IncomingMessage,
    method: string,
    path: string,
    query: string | undefined,
  ) {
    this.sampling = sampling;
    this.traceId = sampling.ids.generateTraceId();
    this.spanId = sampling.ids.generateSpanId();
    this.started = performance.now();
    this.#epochOffset = Date.now() - this.started;
    this.#req = req;
    this.#method = method;
    this.#path = path;
    this.#query = query;
  }

  /** Records the exchange's span from its arrival on, under `decision`; once, and not after the exchange ended. */
  keep(decision: SamplingResult): Span | undefined {
    const req = this.#req;
    if (this.span || req === undefined) return this.span;
    const { ids, tracer } = this.sampling;
    ids.give(this.traceId, this.spanId);
    try {
      this.span = tracer.startSpan(
        this.#method,
        {
          kind: SpanKind.SERVER,
          attributes: requestAttributes(req, this.#method, this.#path, this.#query),
          startTime: this.time(this.started),
        },
        withDecision(linkedRoot, decision),
      );
    } finally {
      ids.settle();
    }
    return this.span;
  }

  /** A `performance.now()` reading as the wall-clock time the exchange's spans use. */
  time(performanceNow: number): HrTime {
    return millisToHrTime(performanceNow + this.#epochOffset);
  }

  /** The span at the exchange's end: an exchange no request decided (refused, notifications only) is decided by its route. */
  spanAtEnd(): Span | undefined {
    if (!this.span && !this.decided) {
      const decision = this.sampling.decideExchange(this.traceId);
      if (decision.decision === SamplingDecision.RECORD_AND_SAMPLED) this.keep(decision);
    }
    this.#req = undefined;
    return this.span;
  }
}

/** The pending exchange a request's context belongs to, when its span waits for the decision. */
export function pendingExchangeOf(ctx: Context): PendingExchange | undefined {
  return ctx.getValue(exchangeKey) as PendingExchange | undefined;
}

/**
 * Wraps the server's request listener in the HTTP server span (kind SERVER) and the
 * `http.server.request.duration` point of each request, as the HTTP semantic conventions name them.
 * The span's parent is the W3C trace context of the request's headers; the listener runs in the
 * span's context, where `nameHttpRoute` sets `http.route`. Lookout does this itself rather than
 * through the HTTP instrumentation, whose server side (a URL parsed, the request and response
 * emitters bound to the context, …) was a large share of a request's CPU time (docs/performance.md).
 */
export function tracedRequestListener(
  listener: RequestListener,
  tracer: Tracer,
  histograms: HistogramFactory,
  /** Decides before spans are made (the adaptive sampler); unset under a standard sampler. */
  early?: { readonly sampling: ExchangeSampling; readonly mcpPath: string },
): RequestListener {
  const duration = histograms(metricNames.httpServerRequestDuration, {
    description: 'Duration of HTTP server requests.',
    unit: units.seconds,
    boundaries: operationDurationBuckets,
  });

  const metricAttributes = new AttributeSets(requestDurationAttributes);
  /** `{method} {route}`, built once per pair: methods are the known ones and routes Lookout's own few. */
  const spanNames = new Map<string, Map<string, string>>();
  const spanName = (method: string, route: string): string => {
    let byRoute = spanNames.get(method);
    if (!byRoute) {
      byRoute = new Map();
      spanNames.set(method, byRoute);
    }
    let name = byRoute.get(route);
    if (name === undefined) {
      name = `${method} ${route}`;
      byRoute.set(route, name);
    }
    return name;
  };

  const end = (
    span: Span | undefined,
    rpc: RPCMetadata,
    method: string,
    httpVersion: string,
    status: number,
    started: number,
    exchange?: PendingExchange,
  ) => {
    const now = performance.now();
    if (span) {
      span.setAttribute(attr.httpResponseStatusCode, status);
      if (rpc.route !== undefined) {
        span.setAttribute(attr.httpRoute, rpc.route);
        span.updateName(spanName(method, rpc.route));
      }
      if (status >= 500) {
        span.setAttribute(attr.errorType, String(status));
        span.setStatus(errorStatus);
      }
      span.end(exchange ? exchange.time(now) : now);
    }
    duration.record((now - started) / 1000, metricAttributes.get(method, httpVersion, status, rpc.route));
  };

  /** A POST to the MCP endpoint without trace context: its span waits for the decision. */
  const serveUndecided = (
    req: IncomingMessage,
    res: ServerResponse,
    sampling: ExchangeSampling,
    method: string,
    path: string,
    query: string | undefined,
  ) => {
    const exchange = new PendingExchange(sampling, req, method, path, query);
    // Until a request keeps it, the exchange's context holds its ids only: log lines carry them,
    // and an outgoing traceparent passes them on unsampled.
    const idsOnly = trace.wrapSpanContext({
      traceId: exchange.traceId,
      spanId: exchange.spanId,
      traceFlags: TraceFlags.NONE,
    });
    const rpc: RPCMetadata = { type: RPCType.HTTP, span: idsOnly };
    res.once('close', () =>
      end(exchange.spanAtEnd(), rpc, method, req.httpVersion, res.statusCode, exchange.started, exchange),
    );
    const ctx = setRPCMetadata(trace.setSpan(linkedRoot.setValue(exchangeKey, exchange), idsOnly), rpc);
    context.with(ctx, listener, undefined, req, res);
  };

  return (req, res) => {
    const url = req.url ?? '/';
    const queryStart = url.indexOf('?');
    const path = queryStart === -1 ? url : url.slice(0, queryStart);
    if (isUntraced(path)) {
      listener(req, res);
      return;
    }
    const method = req.method !== undefined && httpMethods.has(req.method) ? req.method : '_OTHER';
    const query = queryStart === -1 ? undefined : url.slice(queryStart + 1);
    const parent = LinkedContext.over(propagation.extract(ROOT_CONTEXT, req.headers));
    if (early && method === 'POST' && path === early.mcpPath) {
      const remote = trace.getSpanContext(parent);
      if (!remote || !isSpanContextValid(remote)) {
        serveUndecided(req, res, early.sampling, method, path, query);
        return;
      }
    }
    const span = tracer.startSpan(
      method === '_OTHER' ? 'HTTP' : method,
      { kind: SpanKind.SERVER, attributes: requestAttributes(req, method, path, query) },
      parent,
    );
    const rpc: RPCMetadata = { type: RPCType.HTTP, span };
    const started = performance.now();
    res.once('close', () => end(span, rpc, method, req.httpVersion, res.statusCode, started));
    context.with(setRPCMetadata(trace.setSpan(parent, span), rpc), listener, undefined, req, res);
  };
}
