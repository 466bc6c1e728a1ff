import { context, ROOT_CONTEXT } from '@opentelemetry/api';

/**
 * Runs the code that finishes a response outside the request's trace context. A keep-alive connection
 * outlives its request, and Node arms the connection's idle timer as the response finishes, in the
 * context current at `res.end`: in the request's, that timer would hold the request's spans, and all
 * they reference, until the connection's next request or its close, and every young-generation GC
 * would copy them again.
 */
export function finishOutsideRequestContext(finish: () => void): void {
  context.with(ROOT_CONTEXT, finish);
}
