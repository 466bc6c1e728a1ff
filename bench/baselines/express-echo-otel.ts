/**
 * Baseline: the raw Express echo plus the telemetry Lookout's full mode gives each call, done directly
 * with the OpenTelemetry SDK and nothing of Lookout's: an HTTP server span and a child `tools/call`
 * span (both sampled, batched and exported over OTLP/protobuf), the two duration histograms (exported
 * over OTLP), and one JSON access line with the trace ids on stdout that also goes out as an OTLP log
 * record. No MCP, no sessions, no winston. What the SDK costs per call when used as leanly as its
 * public API allows: the floor under Lookout's telemetry overhead.
 */
import { context, logs, metrics, SeverityNumber, type Span, SpanKind, trace } from '@opentelemetry/api';
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { BatchLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import { NodeSDK } from '@opentelemetry/sdk-node';
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace';
import express from 'express';
import { listenAndAnnounce } from './listen.ts';

const sdk = new NodeSDK({
  serviceName: 'express-echo-otel',
  spanProcessors: [new BatchSpanProcessor({ exporter: new OTLPTraceExporter() })],
  logRecordProcessors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter() })],
  metricReaders: [new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter() })],
  instrumentations: [],
});
sdk.start();

const tracer = trace.getTracer('express-echo-otel');
const meter = metrics.getMeter('express-echo-otel');
const otelLogger = logs.getLogger('express-echo-otel');
const httpDuration = meter.createHistogram('http.server.request.duration', { unit: 's' });
const operationDuration = meter.createHistogram('mcp.server.operation.duration', { unit: 's' });

/** Access lines are written once per event-loop turn, as Lookout writes its own. */
let pendingLines = '';
function writeLine(line: string): void {
  if (pendingLines === '') {
    setImmediate(() => {
      process.stdout.write(pendingLines);
      pendingLines = '';
    });
  }
  pendingLines += `${line}\n`;
}

const app = express();
app.disable('x-powered-by');
app.use((req, res, next) => {
  const started = performance.now();
  const span = tracer.startSpan('POST /mcp', {
    kind: SpanKind.SERVER,
    attributes: {
      'http.request.method': req.method,
      'url.scheme': 'http',
      'url.path': req.path,
      'network.protocol.version': req.httpVersion,
      'network.peer.address': req.socket.remoteAddress,
      'network.peer.port': req.socket.remotePort,
      'user_agent.original': req.headers['user-agent'],
      'server.address': '127.0.0.1',
      'client.address': req.socket.remoteAddress,
      'http.route': '/mcp',
    },
  });
  res.locals.httpSpan = span;
  res.once('finish', () => {
    span.setAttribute('http.response.status_code', res.statusCode);
    span.end();
    httpDuration.record((performance.now() - started) / 1000, {
      'http.request.method': req.method,
      'url.scheme': 'http',
      'network.protocol.version': req.httpVersion,
      'http.response.status_code': res.statusCode,
      'http.route': '/mcp',
    });
  });
  next();
});
app.use(express.json());
app.post('/mcp', (req, res) => {
  const started = performance.now();
  const { id, method, params } = req.body as {
    id: number;
    method: string;
    params?: { name?: string; arguments?: { text?: string } };
  };
  const parent = trace.setSpan(context.active(), res.locals.httpSpan as Span);
  const span = tracer.startSpan(
    `${method} ${params?.name ?? ''}`,
    {
      kind: SpanKind.SERVER,
      attributes: {
        'mcp.method.name': method,
        'jsonrpc.request.id': String(id),
        'mcp.protocol.version': '2025-11-25',
        'network.transport': 'tcp',
        'network.protocol.name': 'http',
        'network.protocol.version': req.httpVersion,
        'gen_ai.operation.name': 'execute_tool',
        'gen_ai.tool.name': params?.name,
      },
    },
    parent,
  );
  res.json({
    jsonrpc: '2.0',
    id,
    result: { content: [{ type: 'text', text: params?.arguments?.text ?? '' }] },
  });
  span.end();
  const seconds = (performance.now() - started) / 1000;
  operationDuration.record(seconds, {
    'mcp.method.name': method,
    'mcp.protocol.version': '2025-11-25',
    'network.transport': 'tcp',
    'network.protocol.name': 'http',
    'gen_ai.operation.name': 'execute_tool',
    'gen_ai.tool.name': params?.name ?? '_OTHER',
  });
  const { traceId, spanId } = span.spanContext();
  const record = {
    method,
    target: params?.name,
    id: String(id),
    outcome: 'ok',
    duration_ms: Math.round(seconds * 1e6) / 1e3,
  };
  writeLine(
    JSON.stringify({
      timestamp: new Date().toISOString(),
      level: 'info',
      message: 'mcp request',
      ...record,
      trace_id: traceId,
      span_id: spanId,
    }),
  );
  otelLogger.emit({
    severityNumber: SeverityNumber.INFO,
    severityText: 'info',
    body: 'mcp request',
    attributes: record,
    context: trace.setSpan(parent, span),
  });
});

const server = listenAndAnnounce(app);
// Stop serving on SIGTERM, then flush what the batches hold, as Lookout does when it stops.
process.once('SIGTERM', () => {
  server.close();
  server.closeAllConnections();
  void sdk.shutdown().finally(() => process.exit(0));
});
