import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  headerValue,
  paramHeaderMismatch,
  paramHeadersFor,
  scanParamHeaders,
} from '../../src/tools/param-headers.ts';

const schema = {
  type: 'object',
  properties: {
    region: { type: 'string', 'x-mcp-header': 'Region' },
    priority: { type: 'integer', 'x-mcp-header': 'Priority' },
    dryRun: { type: 'boolean', 'x-mcp-header': 'Dry-Run' },
    target: { type: 'object', properties: { zone: { type: 'string', 'x-mcp-header': 'Zone' } } },
    query: { type: 'string' },
  },
};

describe('x-mcp-header declarations', () => {
  it('are found on primitive properties at any depth of `properties`', () => {
    assert.deepEqual(scanParamHeaders(schema), [
      { path: ['region'], name: 'Region', type: 'string' },
      { path: ['priority'], name: 'Priority', type: 'integer' },
      { path: ['dryRun'], name: 'Dry-Run', type: 'boolean' },
      { path: ['target', 'zone'], name: 'Zone', type: 'string' },
    ]);
    assert.deepEqual(scanParamHeaders({ type: 'object', properties: { q: { type: 'string' } } }), []);
  });

  for (const [label, property] of [
    ['not a token', { type: 'string', 'x-mcp-header': 'My Region' }],
    ['empty', { type: 'string', 'x-mcp-header': '' }],
    ['non-ASCII', { type: 'string', 'x-mcp-header': 'Région' }],
    ['on a number', { type: 'number', 'x-mcp-header': 'Score' }],
    ['on an object', { type: 'object', 'x-mcp-header': 'Data' }],
    ['under items', { type: 'array', items: { type: 'string', 'x-mcp-header': 'Item' } }],
    ['under anyOf', { anyOf: [{ type: 'string', 'x-mcp-header': 'Either' }] }],
    ['under $defs', { $defs: { id: { type: 'string', 'x-mcp-header': 'Id' } } }],
  ] as const) {
    it(`make the tool invalid (nothing checked) when ${label}`, () => {
      assert.equal(scanParamHeaders({ type: 'object', properties: { value: property } }), undefined);
    });
  }

  it('make the tool invalid when two names differ only in case', () => {
    const twice = {
      type: 'object',
      properties: {
        a: { type: 'string', 'x-mcp-header': 'Key' },
        b: { type: 'string', 'x-mcp-header': 'key' },
      },
    };
    assert.equal(scanParamHeaders(twice), undefined);
  });
});

describe('Mcp-Param-* headers against the arguments', () => {
  const declarations = scanParamHeaders(schema) ?? [];
  const check = (args: unknown, headers: Record<string, string>) =>
    paramHeaderMismatch(declarations, args, (name) => headers[name.toLowerCase()]);
  const args = { region: 'us-west1', priority: 42, dryRun: false, target: { zone: 'b' }, query: 'x' };
  const headers = { region: 'us-west1', priority: '42', 'dry-run': 'false', zone: 'b' };

  it('agree when each present argument is repeated, encoded as the revision says', () => {
    assert.equal(check(args, headers), undefined);
    assert.equal(check(args, { ...headers, priority: '42.0' }), undefined, 'integers compare as numbers');
    const unicode = { ...args, region: 'Zürich ' };
    const encoded = `=?base64?${Buffer.from('Zürich ').toString('base64')}?=`;
    assert.equal(check(unicode, { ...headers, region: encoded }), undefined);
    const literal = Buffer.from('Hello').toString('base64');
    assert.equal(
      check({ ...args, region: literal }, { ...headers, region: literal }),
      undefined,
      'no wrapper: literal',
    );
  });

  it('need no header for an absent or null argument, and ignore one sent anyway', () => {
    assert.equal(check({ query: 'x', region: null }, {}), undefined);
    assert.equal(check({ query: 'x' }, { region: 'eu' }), undefined);
  });

  it('disagree when a header is missing, different, or badly encoded', () => {
    assert.match(
      check(args, { ...headers, region: undefined as unknown as string }) ?? '',
      /Mcp-Param-Region is missing/,
    );
    assert.match(check(args, { ...headers, region: 'eu-west1' }) ?? '', /Mcp-Param-Region is "eu-west1"/);
    assert.match(check(args, { ...headers, priority: '41' }) ?? '', /Mcp-Param-Priority/);
    assert.match(check(args, { ...headers, 'dry-run': 'False' }) ?? '', /Mcp-Param-Dry-Run/);
    assert.match(check(args, { ...headers, zone: 'c' }) ?? '', /arguments\.target\.zone/);
    for (const bad of ['=?base64?SGVsbG8?=', '=?base64?SGVs!!!bG8=?=', '=?base64?/w==?=']) {
      assert.match(
        check({ ...args, region: 'Hello' }, { ...headers, region: bad }) ?? '',
        /not valid Base64/,
        bad,
      );
    }
  });
});

describe('Mcp-Param-* headers a client sends', () => {
  const declarations = scanParamHeaders(schema) ?? [];

  it('repeat each present primitive argument, plain or in Base64, as the server check accepts', () => {
    const args = { region: 'zürich ', priority: 5, dryRun: false, target: { zone: 'a b' }, query: 'x' };
    const headers = paramHeadersFor(declarations, args);
    const headerOf = (name: string) => headers[`mcp-param-${name.toLowerCase()}`];
    assert.equal(paramHeaderMismatch(declarations, args, headerOf), undefined);
    assert.deepEqual(headers, {
      'mcp-param-region': `=?base64?${Buffer.from('zürich ').toString('base64')}?=`,
      'mcp-param-priority': '5',
      'mcp-param-dry-run': 'false',
      'mcp-param-zone': 'a b',
    });
  });

  it('leave out absent and null arguments', () => {
    assert.deepEqual(paramHeadersFor(declarations, { region: null, priority: undefined }), {});
  });

  it('encode what would read as the sentinel, and empty values', () => {
    assert.equal(
      headerValue('=?base64?eA==?='),
      `=?base64?${Buffer.from('=?base64?eA==?=').toString('base64')}?=`,
    );
    assert.equal(headerValue(''), '=?base64??=');
    assert.equal(headerValue('plain value'), 'plain value');
  });
});
