import { once } from 'node:events';
import { createServer, type Server as HttpServer, type RequestListener } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Tracer } from '@opentelemetry/api';
import { tracedRequestListener } from '../telemetry/http-server.ts';
import type { HistogramFactory } from '../telemetry/own-histograms.ts';
import type { ExchangeSampling } from '../telemetry/sampling/exchange-sampling.ts';
import { refuseOversizedBeforeContinue } from './body.ts';
import { capturingTransportContext } from './transport-context.ts';

export interface ListenOptions {
  readonly host: string;
  readonly port: number;
  /** Bodies over this size are refused before `100 Continue` (see body.ts). */
  readonly maxBodyBytes: number;
  /** The HTTP server span and metrics; unset when telemetry is off. */
  readonly telemetry:
    | {
        readonly tracer: Tracer;
        readonly histograms: HistogramFactory;
        /** Decides the MCP endpoint's exchanges before their spans are made (the adaptive sampler). */
        readonly early?: { readonly sampling: ExchangeSampling; readonly mcpPath: string } | undefined;
      }
    | undefined;
}

/**
 * Node stores a socket's peer address on the socket, as a new property, the first time it is read.
 * Read for some requests only (a sampled span's attributes, a refused request's log line), that gave
 * connections several hidden classes and made the property reads in Node's HTTP code, which every
 * response runs, megamorphic (docs/performance.md). Read as each connection opens, all have one.
 */
function readPeerAddress(socket: Socket): void {
  void socket.remoteAddress;
}

/** Serves the app on a Node HTTP server and resolves once it listens, with the port actually bound. */
export async function listen(
  app: RequestListener,
  options: ListenOptions,
): Promise<{ server: HttpServer; port: number }> {
  const listener = capturingTransportContext(app);
  // Without telemetry (OTEL_SDK_DISABLED) the HTTP span would be a no-op at a cost on every request.
  const server: HttpServer = createServer(
    { keepAliveTimeout: 65_000 },
    options.telemetry === undefined
      ? listener
      : tracedRequestListener(
          listener,
          options.telemetry.tracer,
          options.telemetry.histograms,
          options.telemetry.early,
        ),
  );
  refuseOversizedBeforeContinue(server, options.maxBodyBytes);
  server.on('connection', readPeerAddress);
  server.listen(options.port, options.host);
  await once(server, 'listening');
  return { server, port: (server.address() as AddressInfo).port };
}

/** The URL of a path on a server bound to `host:port` (an IPv6 host in brackets). */
export function urlOf(host: string, port: number, path: string): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}${path}`;
}
