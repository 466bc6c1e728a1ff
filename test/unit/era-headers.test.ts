import assert from 'node:assert/strict';
import { it } from 'node:test';
import { modernRequestHeaders } from '../../src/upstreams/era-headers.ts';

const meta = { 'io.modelcontextprotocol/protocolVersion': '2026-07-28' };

it('a 2026-07-28 request carries its version, method and name as headers', () => {
  assert.deepEqual(
    modernRequestHeaders({
      jsonrpc: '2.0',
      id: 1,
      method: 'tools/call',
      params: { name: 'get_weather', arguments: {}, _meta: meta },
    }),
    { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/call', 'mcp-name': 'get_weather' },
  );
  assert.deepEqual(
    modernRequestHeaders({
      jsonrpc: '2.0',
      id: 2,
      method: 'resources/read',
      params: { uri: 'test://static-text', _meta: meta },
    })?.['mcp-name'],
    'test://static-text',
  );
  assert.deepEqual(
    modernRequestHeaders({ jsonrpc: '2.0', id: 3, method: 'tools/list', params: { _meta: meta } }),
    { 'mcp-protocol-version': '2026-07-28', 'mcp-method': 'tools/list' },
  );
});

it('a name that is not plain visible ASCII is sent base64-encoded', () => {
  const name = (value: string) =>
    modernRequestHeaders({
      jsonrpc: '2.0',
      id: 1,
      method: 'prompts/get',
      params: { name: value, _meta: meta },
    })?.['mcp-name'];
  assert.equal(name('café'), `=?base64?${Buffer.from('café').toString('base64')}?=`);
  assert.equal(name(' padded'), `=?base64?${Buffer.from(' padded').toString('base64')}?=`);
  assert.equal(name('with space'), 'with space');
});

it('a 2025 message, or a notification, gets none', () => {
  assert.equal(
    modernRequestHeaders({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'x' } }),
    undefined,
  );
  assert.equal(
    modernRequestHeaders({ jsonrpc: '2.0', method: 'notifications/initialized', params: { _meta: meta } }),
    undefined,
  );
});
