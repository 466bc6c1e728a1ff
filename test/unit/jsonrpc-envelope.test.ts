import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  isErrorResponse,
  isRequest,
  isResponse,
  jsonRpcMessage,
} from '../../src/upstreams/jsonrpc-envelope.ts';

describe('the JSON-RPC envelope of an upstream message', () => {
  it('passes requests, notifications, results and errors on as they are, without copying them', () => {
    for (const message of [
      { jsonrpc: '2.0', id: 1, method: 'sampling/createMessage', params: { messages: [] } },
      { jsonrpc: '2.0', method: 'notifications/message', params: { level: 'info', data: 'x' } },
      { jsonrpc: '2.0', method: 'notifications/tools/list_changed' },
      { jsonrpc: '2.0', id: 'a', result: { content: [{ type: 'hologram', frames: 3 }] } },
      { jsonrpc: '2.0', id: 2, error: { code: -32602, message: 'bad' } },
      { jsonrpc: '2.0', error: { code: -32700, message: 'parse error' } },
    ])
      assert.equal(jsonRpcMessage(message), message);
  });

  it('refuses anything that is not one', () => {
    for (const value of [
      null,
      'text',
      [{ jsonrpc: '2.0', id: 1, result: {} }],
      { jsonrpc: '1.0', id: 1, result: {} },
      { jsonrpc: '2.0', id: 1 },
      { jsonrpc: '2.0', id: 1, result: [] },
      { jsonrpc: '2.0', result: {} },
      { jsonrpc: '2.0', id: {}, result: {} },
      { jsonrpc: '2.0', method: 'x', params: [1] },
      { jsonrpc: '2.0', id: 1, error: { code: 'x', message: 'bad' } },
    ])
      assert.throws(() => jsonRpcMessage(value), /not a JSON-RPC 2.0 message/, JSON.stringify(value));
  });
});

describe('the kind of a JSON-RPC message, by its shape', () => {
  const request = { jsonrpc: '2.0', id: 0, method: 'tools/call', params: { name: 'echo' } } as const;
  const notification = {
    jsonrpc: '2.0',
    method: 'notifications/cancelled',
    params: { requestId: 0 },
  } as const;
  const result = { jsonrpc: '2.0', id: 0, result: { content: [] } } as const;
  const error = { jsonrpc: '2.0', id: 0, error: { code: -32601, message: 'no' } } as const;
  const unnumbered = { jsonrpc: '2.0', error: { code: -32700, message: 'parse error' } } as const;

  it('tells requests (an id of 0 included) from notifications and responses', () => {
    assert.deepEqual(
      [request, notification, result, error, unnumbered].map((m) => [
        isRequest(m),
        isResponse(m),
        isErrorResponse(m),
      ]),
      [
        [true, false, false],
        [false, false, false],
        [false, true, false],
        [false, true, true],
        [false, true, true],
      ],
    );
  });
});
