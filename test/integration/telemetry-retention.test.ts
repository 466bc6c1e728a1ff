import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { Lookout } from '../../src/main.ts';
import { openSession, rpc, startTestLookout } from '../support/lookout.ts';
import { InMemoryTelemetry } from '../support/telemetry.ts';

setFlagsFromString('--expose-gc');
const collectGarbage = runInNewContext('gc') as () => void;

const telemetry = new InMemoryTelemetry();

describe('a keep-alive connection after its request (in-memory exporters)', () => {
  let lookout: Lookout;
  let session: string;

  before(async () => {
    telemetry.install();
    lookout = await startTestLookout();
    session = await openSession(lookout.url);
  });
  after(async () => {
    await lookout.close();
    telemetry.uninstall();
  });

  it("holds none of the request's spans while it stays open", async () => {
    telemetry.spans.reset();
    // fetch keeps the connection open afterwards (and Lookout arms its keep-alive timer).
    const reply = await rpc(
      lookout.url,
      { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'echo', arguments: { text: 'x' } } },
      { 'mcp-session-id': session },
    );
    assert.equal(reply.status, 200);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const spans = telemetry.spans.getFinishedSpans().map((span) => new WeakRef(span));
    assert.ok(spans.length >= 2, 'the HTTP and the MCP span');
    telemetry.spans.reset();
    await new Promise((resolve) => setImmediate(resolve));
    collectGarbage();
    const retained = spans.flatMap((ref) => ref.deref()?.name ?? []);
    assert.deepEqual(retained, []);
  });
});
