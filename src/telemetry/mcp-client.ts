import {
  type Attributes,
  type Context,
  context,
  type Histogram,
  propagation,
  type Span,
  SpanKind,
  SpanStatusCode,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { type AttributePart, AttributeSets } from './attribute-sets.ts';
import {
  attr,
  mcpSpanName,
  metricNames,
  operationDurationBuckets,
  semconvDurationBuckets,
  units,
  values,
} from './conventions.ts';
import { HttpClientTelemetry } from './http-client.ts';
import type { HistogramFactory } from './own-histograms.ts';

export interface UpstreamFacts {
  readonly name: string;
  readonly address?: string | undefined;
  readonly port?: number | undefined;
  readonly protocolVersion?: string | undefined;
  readonly transport: 'stdio' | 'http';
}

export interface ClientCall {
  readonly span: Span;
  readonly context: Context;
  readonly start: number;
  /** The upstream's metric attribute sets, and this call's parts of them. */
  readonly metricSets: AttributeSets;
  readonly protocolVersion: string | undefined;
  readonly method: string;
  /** The tool as a metric label: a listed name, or `_OTHER`. */
  readonly targetLabel: string | undefined;
  /** `params._meta` entries carrying this call's trace context to the upstream. */
  readonly meta: Record<string, string>;
}

/**
 * An upstream's attribute sets: of its spans, by protocol version, method and target (the name called);
 * of its metric points, by protocol version, method, target label and error type.
 */
interface UpstreamSets {
  readonly spans: AttributeSets;
  readonly metrics: AttributeSets;
}

/**
 * A `mcp.client` span (kind CLIENT) and a `mcp.client.operation.duration` point for each call Lookout
 * makes to an upstream MCP server, with the trace context injected into the request's `params._meta`;
 * `http` makes the spans of the HTTP requests that carry them to an HTTP upstream.
 */
export class McpClientTelemetry {
  readonly http: HttpClientTelemetry;
  readonly #tracer: Tracer;
  readonly #duration: Histogram;
  readonly #sessionDuration: Histogram;
  /** Per upstream: its span and `mcp.client.operation.duration` attribute sets, built once per combination. */
  readonly #sets = new Map<string, UpstreamSets>();

  constructor(tracer: Tracer, histograms: HistogramFactory) {
    this.http = new HttpClientTelemetry(tracer, histograms);
    this.#tracer = tracer;
    this.#duration = histograms(metricNames.clientOperationDuration, {
      description: 'Duration of MCP requests Lookout sends to upstream servers.',
      unit: units.seconds,
      boundaries: operationDurationBuckets,
    });
    this.#sessionDuration = histograms(metricNames.clientSessionDuration, {
      description: 'Duration of Lookout sessions with upstream servers.',
      unit: units.seconds,
      boundaries: semconvDurationBuckets,
    });
  }

  start(
    method: string,
    target: string | undefined,
    upstream: UpstreamFacts,
    knownTarget: boolean,
  ): ClientCall {
    const sets = this.#setsOf(upstream);
    const span = this.#tracer.startSpan(mcpSpanName(method, target), {
      kind: SpanKind.CLIENT,
      attributes: sets.spans.get(upstream.protocolVersion, method, target, undefined),
    });
    const callContext = trace.setSpan(context.active(), span);
    const meta: Record<string, string> = {};
    propagation.inject(callContext, meta);
    return {
      span,
      context: callContext,
      start: performance.now(),
      metricSets: sets.metrics,
      protocolVersion: upstream.protocolVersion,
      method,
      targetLabel: knownTarget ? target : target === undefined ? undefined : values.other,
      meta,
    };
  }

  #setsOf(upstream: UpstreamFacts): UpstreamSets {
    let sets = this.#sets.get(upstream.name);
    if (sets) return sets;
    const { name, transport, address, port } = upstream;
    const build = (
      protocolVersion: AttributePart,
      method: AttributePart,
      target: AttributePart,
      errorType: AttributePart,
    ) => {
      const attributes: Attributes = {
        [attr.mcpMethodName]: method,
        [attr.lookoutUpstream]: name,
        [attr.networkTransport]: transport === 'stdio' ? 'pipe' : values.tcp,
      };
      if (protocolVersion !== undefined) attributes[attr.mcpProtocolVersion] = protocolVersion;
      if (address !== undefined) attributes[attr.serverAddress] = address;
      if (port !== undefined) attributes[attr.serverPort] = port;
      if (method === 'tools/call' && target !== undefined) {
        attributes[attr.genAiToolName] = target;
        attributes[attr.genAiOperationName] = values.executeTool;
      }
      if (errorType !== undefined) attributes[attr.errorType] = errorType;
      return attributes;
    };
    sets = {
      spans: new AttributeSets((version, method, target) => build(version, method, target, undefined)),
      metrics: new AttributeSets(build),
    };
    this.#sets.set(upstream.name, sets);
    return sets;
  }

  /** Ends a call: `errorType` is a JSON-RPC code, `tool_error`, `timeout` or another low-cardinality class. */
  end(call: ClientCall, errorType: string | undefined, message?: string): void {
    const { span } = call;
    if (errorType !== undefined) {
      span.setAttribute(attr.errorType, errorType);
      if (/^-?\d+$/.test(errorType)) span.setAttribute(attr.rpcResponseStatusCode, errorType);
      span.setStatus({ code: SpanStatusCode.ERROR, ...(message !== undefined && { message }) });
    }
    span.end();
    this.#duration.record(
      (performance.now() - call.start) / 1000,
      call.metricSets.get(call.protocolVersion, call.method, call.targetLabel, errorType),
    );
  }

  sessionEnded(startedAt: number, upstream: UpstreamFacts, errorType?: string): void {
    this.#sessionDuration.record((Date.now() - startedAt) / 1000, {
      [attr.lookoutUpstream]: upstream.name,
      ...(upstream.protocolVersion !== undefined && { [attr.mcpProtocolVersion]: upstream.protocolVersion }),
      ...(errorType !== undefined && { [attr.errorType]: errorType }),
    });
  }
}
