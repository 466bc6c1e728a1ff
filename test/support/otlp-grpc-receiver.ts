import {
  Server,
  ServerCredentials,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from '@grpc/grpc-js';

const services = {
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
} as const;

type Signal = keyof typeof services;

const passThrough = (buffer: Buffer) => buffer;

/**
 * A real OTLP/gRPC endpoint on 127.0.0.1: it answers every export with an empty (successful)
 * response and keeps, per signal, the size and metadata of each request. It does not decode them.
 */
export class OtlpGrpcReceiver {
  readonly requests: Record<Signal, { bytes: number; metadata: Record<string, unknown> }[]> = {
    traces: [],
    metrics: [],
    logs: [],
  };
  readonly #server = new Server();

  async start(): Promise<string> {
    const definition: Record<string, ServiceDefinition[string]> = {};
    const implementation: UntypedServiceImplementation = {};
    for (const [signal, path] of Object.entries(services) as [Signal, string][]) {
      definition[signal] = {
        path,
        requestStream: false,
        responseStream: false,
        requestSerialize: passThrough,
        requestDeserialize: passThrough,
        responseSerialize: passThrough,
        responseDeserialize: passThrough,
      };
      implementation[signal] = (
        call: { request: Buffer; metadata: { getMap(): Record<string, unknown> } },
        callback: (error: null, response: Buffer) => void,
      ) => {
        this.requests[signal].push({ bytes: call.request.length, metadata: call.metadata.getMap() });
        callback(null, Buffer.alloc(0));
      };
    }
    this.#server.addService(definition, implementation);
    const port = await new Promise<number>((resolve, reject) =>
      this.#server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      ),
    );
    return `http://127.0.0.1:${port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.tryShutdown(() => resolve()));
  }
}
