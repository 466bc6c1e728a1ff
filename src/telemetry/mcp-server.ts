import type { JSONRPCMessage, JSONRPCRequest } from '@modelcontextprotocol/sdk/types.js';
import {
  type Attributes,
  type Context,
  context,
  type Histogram,
  type Link,
  type Meter,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  type Tracer,
  trace,
} from '@opentelemetry/api';
import type { Logger } from '../logging/logger.ts';
import { type Principal, subjectHash } from '../security/principal.ts';
import { AttributeSets } from './attribute-sets.ts';
import {
  attr,
  knownMethods,
  mcpSpanName,
  metricNames,
  operationDurationBuckets,
  units,
  values,
} from './conventions.ts';

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
  readonly span: Span;
  readonly context: Context;
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
}

export interface McpServerTelemetryOptions {
  readonly tracer: Tracer;
  readonly meter: Meter;
  readonly logger: Logger;
  /** Tool and prompt names as metric labels only when they are registered; anything else is `_OTHER`. */
  readonly isKnownTool: (name: string) => boolean;
  readonly isKnownPrompt: (name: string) => boolean;
  /** Tool arguments and results are recorded only when asked for, and then redacted. */
  readonly record?: { arguments: boolean; results: boolean; redact: (value: unknown) => unknown };
}

type Outcome = 'ok' | 'error' | 'tool_error' | 'cancelled';

const toolErrorStatus = { code: SpanStatusCode.ERROR } as const;

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

  constructor(options: McpServerTelemetryOptions) {
    this.#tracer = options.tracer;
    this.#logger = options.logger;
    this.#isKnownTool = options.isKnownTool;
    this.#isKnownPrompt = options.isKnownPrompt;
    this.#record = options.record;
    this.#operationDuration = options.meter.createHistogram(metricNames.serverOperationDuration, {
      description: 'Duration of MCP requests as observed on the server.',
      unit: units.seconds,
      advice: { explicitBucketBoundaries: [...operationDurationBuckets] },
    });
    this.#sessionDuration = options.meter.createHistogram(metricNames.serverSessionDuration, {
      description: 'Duration of MCP sessions as observed on the server.',
      unit: units.seconds,
      advice: { explicitBucketBoundaries: [...operationDurationBuckets] },
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
    const method = message.method;
    const meta = (message.params as { _meta?: Record<string, unknown> } | undefined)?._meta;
    let parent = transportContext;
    const links: Link[] = [];
    if (meta && typeof meta.traceparent === 'string') {
      // The client's MCP span is the parent; the HTTP exchange that carried the message is a link.
      parent = propagation.extract(ROOT_CONTEXT, meta, metaGetter);
      const transport = trace.getSpanContext(transportContext);
      if (transport) links.push({ context: transport });
    }
    const requestId = String(message.id);
    const attributes: Attributes = {
      [attr.mcpMethodName]: method,
      [attr.jsonrpcRequestId]: requestId,
      [attr.mcpProtocolVersion]: session.protocolVersion,
      [attr.networkTransport]: values.tcp,
      [attr.networkProtocolName]: values.http,
      [attr.networkProtocolVersion]: httpVersion,
    };
    if (session.sessionId !== undefined) attributes[attr.mcpSessionId] = session.sessionId;
    const subject = principal ? subjectHash(principal.subject) : undefined;
    if (subject !== undefined) attributes[attr.lookoutSubjectHash] = subject;
    let targetLabel: string | undefined;
    let target: string | undefined;
    let recordedArguments: string | undefined;
    if (method === 'tools/call') {
      target = stringParam(message, 'name');
      attributes[attr.genAiOperationName] = values.executeTool;
      if (this.#record?.arguments) {
        const args = (message.params as { arguments?: unknown } | undefined)?.arguments;
        if (args !== undefined) {
          recordedArguments = JSON.stringify(this.#record.redact(args));
          attributes[attr.genAiToolCallArguments] = recordedArguments;
        }
      }
      if (target !== undefined) {
        attributes[attr.genAiToolName] = target;
        targetLabel = this.#isKnownTool(target) ? target : values.other;
      }
    } else if (method === 'prompts/get') {
      target = stringParam(message, 'name');
      if (target !== undefined) {
        attributes[attr.genAiPromptName] = target;
        targetLabel = this.#isKnownPrompt(target) ? target : values.other;
      }
    } else if (
      method.startsWith('resources/') &&
      method !== 'resources/list' &&
      method !== 'resources/templates/list'
    ) {
      const uri = stringParam(message, 'uri');
      if (uri !== undefined) attributes[attr.mcpResourceUri] = uri;
    }
    const span = this.#tracer.startSpan(
      mcpSpanName(method, target),
      { kind: SpanKind.SERVER, attributes, links },
      parent,
    );
    return {
      span,
      context: trace.setSpan(parent, span),
      start: performance.now(),
      method,
      target,
      protocolVersion: session.protocolVersion,
      methodLabel: knownMethods.has(method) ? method : values.other,
      targetLabel,
      sessionId: session.sessionId,
      requestId,
      subject,
      recordedArguments,
    };
  }

  /** Ends a request's span with the reply's outcome; `reply` is undefined when the client cancelled. */
  end(record: RequestRecord, reply: JSONRPCMessage | undefined): void {
    const seconds = (performance.now() - record.start) / 1000;
    const { span } = record;
    let outcome: Outcome;
    let errorCode: string | undefined;
    let errorType: string | undefined;
    if (reply === undefined) {
      outcome = 'cancelled';
      span.setAttribute(attr.lookoutOutcome, values.cancelled);
    } else if ('error' in reply) {
      outcome = 'error';
      errorCode = String(reply.error.code);
      span.setAttributes({ [attr.errorType]: errorCode, [attr.rpcResponseStatusCode]: errorCode });
      span.setStatus({ code: SpanStatusCode.ERROR, message: reply.error.message });
      errorType = errorCode;
    } else if ((reply as { result?: { isError?: unknown } }).result?.isError === true) {
      outcome = 'tool_error';
      span.setAttribute(attr.errorType, values.toolError);
      span.setStatus(toolErrorStatus);
      errorType = values.toolError;
    } else {
      outcome = 'ok';
    }
    let result: string | undefined;
    if (this.#record?.results && record.method === 'tools/call' && reply !== undefined && 'result' in reply) {
      result = JSON.stringify(this.#record.redact(reply.result));
      span.setAttribute(attr.genAiToolCallResult, result);
    }
    span.end();
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
    const line: Record<string, unknown> = { method: record.method };
    if (record.target !== undefined) line.target = record.target;
    line.id = record.requestId;
    line.session = record.sessionId;
    if (record.subject !== undefined) line.subject = record.subject;
    line.outcome = outcome;
    if (errorCode !== undefined) line.error_code = errorCode;
    if (record.recordedArguments !== undefined) line.arguments = record.recordedArguments;
    if (result !== undefined) line.result = result;
    line.duration_ms = Math.round(seconds * 1e6) / 1e3;
    // In the request's context: the line and its OTLP record carry the ids of the request's span.
    context.with(record.context, this.#logAccess, undefined, line);
  }

  /** One function for every call: with a `this` to bind, the context manager would bind one per call. */
  readonly #logAccess = (line: Record<string, unknown>): void => {
    this.#logger.info('mcp request', line);
  };

  sessionEnded(startedAt: number, protocolVersion: string): void {
    this.#sessionDuration.record((Date.now() - startedAt) / 1000, {
      [attr.mcpProtocolVersion]: protocolVersion,
      [attr.networkTransport]: values.tcp,
      [attr.networkProtocolName]: values.http,
    });
  }
}
