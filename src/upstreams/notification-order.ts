import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';

/**
 * The SDK's client hands a notification to its handler a microtask later but settles a response at
 * once, and forgets a request's progress handler when it settles: a last progress notification that
 * arrives right before the response would be lost. A response that follows notifications is therefore
 * delivered after them.
 */
export function deliverNotificationsFirst(transport: Transport): void {
  const deliver = transport.onmessage;
  if (!deliver) return;
  let notified = false;
  transport.onmessage = (message, extra) => {
    const isNotification = 'method' in message && !('id' in message);
    const isResponse = !('method' in message);
    if (isNotification) notified = true;
    if (isResponse && notified) {
      notified = false;
      setImmediate(() => deliver(message, extra));
      return;
    }
    deliver(message, extra);
  };
}
