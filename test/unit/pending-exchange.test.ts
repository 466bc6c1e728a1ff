import assert from 'node:assert/strict';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { lookoutScope } from '../../src/telemetry/conventions.ts';
import { PendingExchange } from '../../src/telemetry/http-server.ts';
import { ExchangeSampling, GivenIds } from '../../src/telemetry/sampling/exchange-sampling.ts';
import { AdaptiveSampler } from '../../src/telemetry/sampling/sampler.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function sampling(): ExchangeSampling {
  const sampler = new AdaptiveSampler({
    targetPerSecond: 10,
    globalCeilingPerSecond: 100,
    floorProbability: 0.001,
    burst: 5,
    windowSeconds: 10,
    maxKeys: 10,
    rules: [{ sample: 'never' }],
    mcpPath: '/mcp',
  });
  return new ExchangeSampling(
    sampler,
    new GivenIds(),
    { keepErrors: true, keepSlowerThanSeconds: 0 },
    lookoutScope('0.0.0-test'),
  );
}

describe('a pending exchange', () => {
  it('lets its request go once the response has closed, though the exchange itself is still reachable', async () => {
    let req: IncomingMessage | undefined = new IncomingMessage(new Socket());
    const request = new WeakRef(req);
    const exchange = new PendingExchange(sampling(), req, 'POST', '/mcp', undefined);
    req = undefined;
    exchange.decided = true;
    assert.equal(exchange.spanAtEnd(), undefined, 'nothing kept: no span');
    // A WeakRef keeps its target alive until the current job ends.
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    assert.equal(request.deref(), undefined, 'the request is still reachable from its exchange');
    assert.equal(exchange.traceId.length, 32);
  });
});
