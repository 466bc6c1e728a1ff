import type { JSONRPCMessage, JSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';
import {
  type Attributes,
  type Context,
  type Histogram,
  INVALID_SPAN_CONTEXT,
  isSpanContextValid,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  TraceFlags,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import { SamplingDecision } from '@opentelemetry/sdk-trace';
import type { Logger } from '../logging/logger.ts';
import { writtenIn } from '../logging/written-in.ts';
import { type Principal, subjectHash } from '../security/principal.ts';
import { AttributeSets } from './attribute-sets.ts';
import { CanonicalStrings } from './canonical-strings.ts';
import {
  attr,
  knownMethods,
  mcpSpanName,
  metricNames,
  operationDurationBuckets,
  units,
  values,
} from './conventions.ts';
import { type PendingExchange, pendingExchangeOf } from './http-server.ts';
import type { HistogramFactory } from './own-histograms.ts';
import { withDecision } from './sampling/decided.ts';

/** Reads W3C trace context from a request's `params._meta`, as the MCP semantic conventions propose. */
const metaGetter: TextMapGetter<Record<string, unknown>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => {
    const value = carrier[key];
    return typeof value === 'string' ? value : undefined;
  },
};

export interface SessionFacts {
  readonly sessionId: string | undefined;
  readonly protocolVersion: string;
}

/** One MCP request being served: its span, its start time, and what its metric point will carry. */
export interface RequestRecord {
  /** Non-recording (ids only) when the request was not sampled. */
  span: Span;
  context: Context;
  readonly start: number;
  readonly method: string;
  readonly target: string | undefined;
  readonly protocolVersion: string;
  /** The method and the tool or prompt name as metric labels: known names, or `_OTHER`. */
  readonly methodLabel: string;
  readonly targetLabel: string | undefined;
  readonly sessionId: string | undefined;
  readonly requestId: string;
  /** The hash of the authenticated subject, when there is one. */
  readonly subject: string | undefined;
  /** The redacted arguments, when recording them was asked for. */
  readonly recordedArguments: string | undefined;
  readonly message: JSONRPCRequest;
  readonly httpVersion: string;
  /** The exchange whose span waited for its decision (see sampling/exchange-sampling.ts). */
  readonly exchange: PendingExchange | undefined;
  /** Whether it may still be kept for its outcome: not sampled, and its client did not decide. */
  readonly keepable: boolean;
}

export interface McpServerTelemetryOptions {
  readonly tracer: Tracer;
  readonly histograms: HistogramFactory;
  readonly logger: Logger;
  /** Tool and prompt names as metric labels only when they are registered; anything else is `_OTHER`. */
  readonly isKnownTool: (name: string) => boolean;
  readonly isKnownPrompt: (name: string) => boolean;
  /** Tool arguments and results are recorded only when asked for, and then redacted. */
  readonly record?: { arguments: boolean; results: boolean; redact: (value: unknown) => unknown };
}

type Outcome = 'ok' | 'error' | 'tool_error' | 'cancelled';

const toolErrorStatus = { code: SpanStatusCode.ERROR } as const;

/** Stands in a request's record until its span is started. */
const unstarted = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/** The `mcp.server.operation.duration` attributes of a (protocol version, method, target, error type). */
function operationAttributes(
  protocolVersion: string | number | undefined,
  method: string | number | undefined,
  target: string | number | undefined,
  errorType: string | number | undefined,
): Attributes {
  const attributes: Attributes = {
    [attr.mcpMethodName]: method,
    [attr.mcpProtocolVersion]: protocolVersion,
    [attr.networkTransport]: values.tcp,
    [attr.networkProtocolName]: values.http,
  };
  if (method === 'tools/call') {
    attributes[attr.genAiOperationName] = values.executeTool;
    if (target !== undefined) attributes[attr.genAiToolName] = target;
  } else if (method === 'prompts/get' && target !== undefined) {
    attributes[attr.genAiPromptName] = target;
  }
  if (errorType !== undefined) {
    attributes[attr.errorType] = errorType;
    // A JSON-RPC error's code is also its response status code; a tool error has none.
    if (errorType !== values.toolError) attributes[attr.rpcResponseStatusCode] = errorType;
  }
  return attributes;
}

function stringParam(message: JSONRPCRequest, key: string): string | undefined {
  const value = (message.params as Record<string, unknown> | undefined)?.[key];
  return typeof value === 'string' ? value : undefined;
}

/**
 * The one place each MCP request is wrapped in telemetry: a `mcp.server` span (kind SERVER) named and
 * attributed per the semantic conventions, a `mcp.server.operation.duration` point, and an access log line.
 */
export class McpServerTelemetry {
  readonly #tracer: Tracer;
  readonly #logger: Logger;
  readonly #operationDuration: Histogram;
  readonly #sessionDuration: Histogram;
  readonly #isKnownTool: (name: string) => boolean;
  readonly #isKnownPrompt: (name: string) => boolean;
  readonly #record: McpServerTelemetryOptions['record'];
  readonly #operationAttributes = new AttributeSets(operationAttributes);
  readonly #strings = new CanonicalStrings();

  constructor(options: McpServerTelemetryOptions) {
    this.#tracer = options.tracer;
    this.#logger = options.logger;
    this.#isKnownTool = options.isKnownTool;
    this.#isKnownPrompt = options.isKnownPrompt;
    this.#record = options.record;
    this.#operationDuration = options.histograms(metricNames.serverOperationDuration, {
      description: 'Duration of MCP requests as observed on the server.',
      unit: units.seconds,
      boundaries: operationDurationBuckets,
    });
    this.#sessionDuration = options.histograms(metricNames.serverSessionDuration, {
      description: 'Duration of MCP sessions as observed on the server.',
      unit: units.seconds,
      boundaries: operationDurationBuckets,
    });
  }

  /** Starts the span of a request; run its handler inside the returned record's context. */
  start(
    message: JSONRPCRequest,
    session: SessionFacts,
    httpVersion: string,
    transportContext: Context,
    principal?: Principal,
  ): RequestRecord {
    const known = knownMethods.has(message.method);
    const method = known ? this.#strings.of(message.method) : message.method;
    let target: string | undefined;
    let targetLabel: string | undefined;
    let recordedArguments: string | undefined;
    if (method === 'tools/call') {
      target = stringParam(message, 'name');
      if (target !== undefined && this.#isKnownTool(target)) target = targetLabel = this.#strings.of(target);
      else if (target !== undefined) targetLabel = values.other;
      if (this.#record?.arguments) {
        const args = (message.params as { arguments?: unknown } | undefined)?.arguments;
        if (args !== undefined) recordedArguments = JSON.stringify(this.#record.redact(args));
      }
    } else if (method === 'prompts/get') {
      target = stringParam(message, 'name');
      if (target !== undefined && this.#isKnownPrompt(target))
        target = targetLabel = this.#strings.of(target);
      else if (target !== undefined) targetLabel = values.other;
    }
    const meta = (message.params as { _meta?: Record<string, unknown> } | undefined)?._meta;
    // The client's MCP span is the parent; the HTTP exchange that carried the message is a link.
    const clientParent =
      meta && typeof meta.traceparent === 'string'
        ? propagation.extract(ROOT_CONTEXT, meta, metaGetter)
        : undefined;
    const exchange = pendingExchangeOf(transportContext);
    let transport = transportContext;
    let keepable = false;
    let span: Span | undefined;
    if (exchange) {
      exchange.decided = true;
      const client = clientParent && trace.getSpanContext(clientParent);
      if (client && isSpanContextValid(client)) {
        // The client decided: for its request and for the exchange, and nothing keeps what it dropped.
        if (client.traceFlags & TraceFlags.SAMPLED) exchange.keep(exchange.sampling.keptForOutcome);
      } else {
        const decision = exchange.sampling.decideRequest(method, target, exchange.traceId);
        if (decision.decision === SamplingDecision.RECORD_AND_SAMPLED) exchange.keep(decision);
        else if (!exchange.span) keepable = true;
      }
      if (exchange.span) {
        transport = trace.setSpan(transportContext, exchange.span);
      } else {
        // Not sampled: no span is recorded, only ids for the log line and the traceparent passed on.
        const parentContext = client && isSpanContextValid(client) ? client : undefined;
        span = trace.wrapSpanContext({
          traceId: parentContext?.traceId ?? exchange.traceId,
          spanId: exchange.sampling.ids.generateSpanId(),
          traceFlags: TraceFlags.NONE,
          traceState: parentContext?.traceState,
        });
      }
    }
    const parent = clientParent ?? transport;
    const record: RequestRecord = {
      span: span ?? unstarted,
      context: transport,
      start: performance.now(),
      method,
      target,
      protocolVersion: this.#strings.of(session.protocolVersion),
      methodLabel: known ? method : values.other,
      targetLabel,
      sessionId: session.sessionId,
      requestId: String(message.id),
      subject: principal ? subjectHash(principal.subject) : undefined,
      recordedArguments,
      message,
      httpVersion,
      exchange,
      keepable,
    };
    if (span === undefined) {
      const links: Link[] = [];
      const carrier = clientParent ? trace.getSpanContext(transport) : undefined;
      if (carrier) links.push({ context: carrier });
      record.span = this.#tracer.startSpan(
        target !== undefined && target === targetLabel
          ? this.#strings.spanName(method, target)
          : mcpSpanName(method, target),
        {
          kind: SpanKind.SERVER,
          attributes: this.#attributes(record),
          links,
          // In an exchange decided early, on the clock of its HTTP span.
          startTime: exchange?.time(record.start),
        },
        parent,
      );
    }
    record.context = trace.setSpan(parent, record.span);
    return record;
  }

  /** The span attributes of a request, as the MCP semantic conventions name them. */
  #attributes(record: RequestRecord): Attributes {
    const { method, target, message } = record;
    const attributes: Attributes = {
      [attr.mcpMethodName]: method,
      [attr.jsonrpcRequestId]: record.requestId,
      [attr.mcpProtocolVersion]: record.protocolVersion,
      [attr.networkTransport]: values.tcp,
      [attr.networkProtocolName]: values.http,
      [attr.networkProtocolVersion]: record.httpVersion,
    };
    if (record.sessionId !== undefined) attributes[attr.mcpSessionId] = record.sessionId;
    if (record.subject !== undefined) attributes[attr.lookoutSubjectHash] = record.subject;
    if (method === 'tools/call') {
      attributes[attr.genAiOperationName] = values.executeTool;
      if (record.recordedArguments !== undefined)
        attributes[attr.genAiToolCallArguments] = record.recordedArguments;
      if (target !== undefined) attributes[attr.genAiToolName] = target;
    } else if (method === 'prompts/get') {
      if (target !== undefined) attributes[attr.genAiPromptName] = target;
    } else if (
      method.startsWith('resources/') &&
      method !== 'resources/list' &&
      method !== 'resources/templates/list'
    ) {
      const uri = stringParam(message, 'uri');
      if (uri !== undefined) attributes[attr.mcpResourceUri] = uri;
    }
    return attributes;
  }

  /**
   * The span of an unsampled request that failed or was slow, made now with its true start time and
   * the ids it carried, inside its exchange's span (kept too, from its arrival); undefined when the
   * request is not kept.
   */
  #keptAfterTheFact(record: RequestRecord, errorType: string | undefined, seconds: number): Span | undefined {
    const exchange = record.exchange;
    if (!record.keepable || !exchange?.sampling.keepsOutcome(errorType, seconds)) return undefined;
    const { sampling } = exchange;
    const http = exchange.keep(sampling.keptForOutcome);
    const parent = http
      ? trace.setSpan(ROOT_CONTEXT, http)
      : trace.setSpanContext(ROOT_CONTEXT, {
          traceId: exchange.traceId,
          spanId: exchange.spanId,
          traceFlags: TraceFlags.SAMPLED,
        });
    sampling.ids.give(undefined, record.span.spanContext().spanId);
    try {
      return this.#tracer.startSpan(
        mcpSpanName(record.method, record.target),
        {
          kind: SpanKind.SERVER,
          attributes: this.#attributes(record),
          startTime: exchange.time(record.start),
        },
        withDecision(parent, sampling.keptForOutcome),
      );
    } finally {
      sampling.ids.settle();
    }
  }

  /** Ends a request's span with the reply's outcome; `reply` is undefined when the client cancelled. */
  end(record: RequestRecord, reply: JSONRPCMessage | undefined): void {
    const now = performance.now();
    const seconds = (now - record.start) / 1000;
    let outcome: Outcome;
    let errorCode: string | undefined;
    let errorType: string | undefined;
    let errorMessage: string | undefined;
    if (reply === undefined) {
      outcome = 'cancelled';
    } else if ('error' in reply) {
      outcome = 'error';
      errorCode = String(reply.error.code);
      errorMessage = reply.error.message;
      errorType = errorCode;
    } else if ((reply as { result?: { isError?: unknown } }).result?.isError === true) {
      outcome = 'tool_error';
      errorType = values.toolError;
    } else {
      outcome = 'ok';
    }
    let result: string | undefined;
    if (this.#record?.results && record.method === 'tools/call' && reply !== undefined && 'result' in reply)
      result = JSON.stringify(this.#record.redact(reply.result));
    const span = record.span.isRecording() ? record.span : this.#keptAfterTheFact(record, errorType, seconds);
    if (span) {
      if (outcome === 'cancelled') {
        span.setAttribute(attr.lookoutOutcome, values.cancelled);
      } else if (outcome === 'error') {
        span.setAttributes({ [attr.errorType]: errorCode, [attr.rpcResponseStatusCode]: errorCode });
        span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage });
      } else if (outcome === 'tool_error') {
        span.setAttribute(attr.errorType, values.toolError);
        span.setStatus(toolErrorStatus);
      }
      if (result !== undefined) span.setAttribute(attr.genAiToolCallResult, result);
      const exchange = record.exchange;
      span.end(exchange ? exchange.time(now) : now);
    }
    this.#operationDuration.record(
      seconds,
      this.#operationAttributes.get(
        record.protocolVersion,
        record.methodLabel,
        record.targetLabel,
        errorType,
      ),
    );
    if (!this.#logger.isInfoEnabled()) return;
    const line: Record<string | symbol, unknown> = { method: record.method };
    if (record.target !== undefined) line.target = record.target;
    line.id = record.requestId;
    line.session = record.sessionId;
    if (record.subject !== undefined) line.subject = record.subject;
    line.outcome = outcome;
    if (errorCode !== undefined) line.error_code = errorCode;
    if (record.recordedArguments !== undefined) line.arguments = record.recordedArguments;
    if (result !== undefined) line.result = result;
    line.duration_ms = Math.round(seconds * 1e6) / 1e3;
    // Written in the request's context: the line and its OTLP record carry the ids of the request's span.
    line[writtenIn] = record.context;
    this.#logger.info('mcp request', line);
  }

  sessionEnded(startedAt: number, protocolVersion: string): void {
    this.#sessionDuration.record((Date.now() - startedAt) / 1000, {
      [attr.mcpProtocolVersion]: protocolVersion,
      [attr.networkTransport]: values.tcp,
      [attr.networkProtocolName]: values.http,
    });
  }
}
