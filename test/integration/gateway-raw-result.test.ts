import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import type { Lookout } from '../../src/main.ts';
import { connectClient, startTestLookout, upstreamsReady } from '../support/lookout.ts';

const rawUpstream = fileURLToPath(new URL('../fixtures/raw-upstream.ts', import.meta.url));

describe('a tool result the gateway only relays', () => {
  let lookout: Lookout;
  before(async () => {
    lookout = await startTestLookout({
      upstreams: [{ name: 'raw', transport: 'stdio', command: process.execPath, args: [rawUpstream] }],
    });
    await upstreamsReady(lookout);
  });
  after(() => lookout.close());

  it('reaches the client as the upstream sent it, content the SDK does not know included', async () => {
    const client = await connectClient(lookout.url);
    const raw = await client.request(
      { method: 'tools/call', params: { name: 'raw__future_content', arguments: {} } },
      z.looseObject({}),
    );
    assert.deepEqual(raw, {
      content: [
        { type: 'text', text: 'as sent' },
        { type: 'hologram', frames: 3 },
      ],
      vendorField: { kept: true },
    });
    await client.close();
  });
});
