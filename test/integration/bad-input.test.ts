import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { type IncomingHttpHeaders, request } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import type { Lookout } from '../../src/main.ts';
import { mcpHeaders, openSession, startTestLookout } from '../support/lookout.ts';

/*
 * A generated bad-input suite. Every row of the tables below becomes one raw HTTP exchange with one
 * real Lookout (body limit 4096 bytes), and every answer must carry exactly the status and JSON-RPC
 * error of the catalog (docs/endpoint-and-errors.md), with no stack trace. Afterwards Lookout must still
 * be ready and serve a normal call.
 */

const maxBodyBytes = 4096;

const Code = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  sessionNotFound: -32001,
} as const;

type RequestId = string | number;

/** Header values to send; one set to `undefined` is not sent at all. */
type HeaderValues = Record<string, string | undefined>;

/** One raw HTTP exchange with Lookout. */
interface Exchange {
  readonly method?: string;
  readonly path?: string;
  readonly headers?: HeaderValues;
  readonly body?: string | Buffer;
  /** Sent in these pieces with `Transfer-Encoding: chunked` instead of with a `Content-Length`. */
  readonly chunks?: readonly string[];
}

interface Reply {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly text: string;
}

/** One JSON-RPC error envelope a reply must carry. */
interface ExpectedError {
  readonly code: number;
  readonly id: RequestId | null;
  /** `error.data.issues[].path`, for errors that name the failing paths. */
  readonly paths?: readonly string[];
}

interface Case {
  readonly name: string;
  /** Built when the case runs, once the sessions exist. */
  readonly exchange: () => Exchange;
  readonly status: number;
  /** One envelope, or (a batch answered as an array) one per request, matched by id. */
  readonly reply: ExpectedError | readonly ExpectedError[];
  /** Response headers the reply must have, besides `content-type: application/json`. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** What the cases need from the running Lookout; filled in by `before`. */
const state = {
  url: new URL('http://127.0.0.1/mcp'),
  /** A session that negotiated 2025-11-25. */
  current: '',
  /** A session that negotiated 2025-03-26, the last version with batches. */
  legacy: '',
  /** A session that was opened and then deleted. */
  ended: '',
};

// ---------------------------------------------------------------------------------------------------
// Building and sending requests

let lastId = 0;

/** A fresh request id, numbers and strings in turn, so that every echoed id is a distinct one. */
function nextId(): RequestId {
  lastId += 1;
  return lastId % 2 === 0 ? lastId : `bad-${lastId}`;
}

/** Marks a member of a message that is left out. */
const absent = Symbol('absent');

/** A JSON-RPC message with these members, leaving out those set to `absent`. */
function message(members: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(members).filter(([, value]) => value !== absent));
}

/** A readable (single-line, printable) rendering of a value, for case names. */
function show(value: unknown): string {
  if (value === absent) return 'missing';
  const text = JSON.stringify(value);
  return text.length > 40 ? `${text.slice(0, 37)}...` : text;
}

/** A JSON-RPC request with a fresh id (or the given one); params left out when undefined. */
function rpcRequest(method: string, params?: unknown, id: RequestId = nextId()): Record<string, unknown> {
  return message({ jsonrpc: '2.0', id, method, params: params === undefined ? absent : params });
}

const echo = (text: unknown = 'hi') => rpcRequest('tools/call', { name: 'echo', arguments: { text } });
const ping = () => rpcRequest('ping');

/** Headers of a request on one of the two sessions (or on none). */
function sessionHeaders(session: 'current' | 'legacy' | 'none'): HeaderValues {
  if (session === 'none') return { ...mcpHeaders };
  return {
    ...mcpHeaders,
    'mcp-session-id': state[session],
    'mcp-protocol-version': session === 'current' ? '2025-11-25' : '2025-03-26',
  };
}

/** A POST of a raw body on the 2025-11-25 session. */
function postRaw(body: string | Buffer, headers: HeaderValues = {}): Exchange {
  return { headers: { ...sessionHeaders('current'), ...headers }, body };
}

/** A POST of a JSON value on the 2025-11-25 session. */
function post(value: unknown, headers: HeaderValues = {}): Exchange {
  return postRaw(JSON.stringify(value), headers);
}

/** A valid ping whose body is exactly `bytes` long. */
function pingOfSize(bytes: number): string {
  const base = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', params: { pad: '' } });
  return JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'ping',
    params: { pad: 'x'.repeat(bytes - base.length) },
  });
}

function send(exchange: Exchange): Promise<Reply> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(exchange.headers ?? {})) {
    if (value !== undefined) headers[name] = value;
  }
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: state.url.hostname,
        port: state.url.port,
        path: exchange.path ?? state.url.pathname,
        method: exchange.method ?? 'POST',
        headers,
        agent: false,
        // A request that is wrongly accepted as a standalone stream would otherwise never end.
        timeout: 5000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('no complete answer within 5 s')));
    req.on('error', reject);
    if (exchange.chunks) {
      for (const chunk of exchange.chunks) req.write(chunk);
      req.end();
    } else {
      req.end(exchange.body);
    }
  });
}

// ---------------------------------------------------------------------------------------------------
// Case builders

/** A JSON-RPC request on the 2025-11-25 session answered 200 with an error for its id. */
function rpcError(
  name: string,
  method: string,
  params: unknown,
  code: number,
  paths?: readonly string[],
): Case {
  const id = nextId();
  return {
    name,
    exchange: () => post(rpcRequest(method, params, id)),
    status: 200,
    reply: { code, id, paths },
  };
}

/** An HTTP-level refusal: the status with a JSON-RPC envelope whose id is null. */
function refusal(
  name: string,
  exchange: () => Exchange,
  status: number,
  code: number,
  headers?: Record<string, string>,
): Case {
  return { name, exchange, status, reply: { code, id: null }, headers };
}

/** A message the endpoint refuses as not JSON-RPC 2.0: 400, -32600, its id echoed when it has a valid one. */
function invalidMessage(name: string, value: Record<string, unknown>): Case {
  const id = value.id;
  const echoed = typeof id === 'string' || Number.isSafeInteger(id) ? (id as RequestId) : null;
  return { name, exchange: () => post(value), status: 400, reply: { code: Code.invalidRequest, id: echoed } };
}

// ---------------------------------------------------------------------------------------------------
// Malformed JSON bodies

const sample = JSON.stringify({
  jsonrpc: '2.0',
  id: 1,
  method: 'tools/call',
  params: { name: 'echo', arguments: { text: 'hi' } },
});
const samplePing = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' });

function utf32le(text: string): Buffer {
  const out = Buffer.alloc(text.length * 4);
  for (let i = 0; i < text.length; i++) out.writeUInt32LE(text.charCodeAt(i), i * 4);
  return out;
}

const truncations: [string, string][] = [];
for (let length = 1; length < sample.length; length += 7) {
  truncations.push([`truncated to ${length} of ${sample.length} bytes`, sample.slice(0, length)]);
}
truncations.push(['missing only its closing brace', sample.slice(0, -1)]);

const trailingGarbage = ['x', '}', ']', ',', '{}', 'null', '\u0000', '//', '/* comment */', ';', ' 1', '"'];

const syntaxErrors: [string, string][] = [
  ['single-quoted strings', `{'jsonrpc':'2.0','id':1,'method':'ping'}`],
  ['unquoted keys', '{jsonrpc:"2.0",id:1,method:"ping"}'],
  ['a trailing comma', '{"jsonrpc":"2.0","id":1,"method":"ping",}'],
  ['a comment inside', '{"jsonrpc":"2.0", /* hi */ "id":1,"method":"ping"}'],
  ['NaN as the id', '{"jsonrpc":"2.0","id":NaN,"method":"ping"}'],
  ['Infinity as the id', '{"jsonrpc":"2.0","id":Infinity,"method":"ping"}'],
  ['undefined as the id', '{"jsonrpc":"2.0","id":undefined,"method":"ping"}'],
  ['a hex id', '{"jsonrpc":"2.0","id":0x1,"method":"ping"}'],
  ['a leading-zero id', '{"jsonrpc":"2.0","id":01,"method":"ping"}'],
  ['a plus-signed id', '{"jsonrpc":"2.0","id":+1,"method":"ping"}'],
  ['a raw newline in a string', '{"jsonrpc":"2.0","id":1,"method":"pi\nng"}'],
  ['an invalid escape', '{"jsonrpc":"2.0","id":1,"method":"\\x70ing"}'],
  ['a short unicode escape', '{"jsonrpc":"2.0","id":1,"method":"\\u70"}'],
  ['an unterminated string', '{"jsonrpc":"2.0","id":1,"method":"ping}'],
  ['a missing colon', '{"jsonrpc" "2.0","id":1,"method":"ping"}'],
  ['a missing value', '{"jsonrpc":,"id":1,"method":"ping"}'],
  ['a lone {', '{'],
  ['a lone [', '['],
  ['a lone }', '}'],
  ['a lone colon', ':'],
  ['a bare word', 'ping'],
  ['two objects', `${samplePing}${samplePing}`],
];

const utf16 = Buffer.from(samplePing, 'utf16le');
const wrongEncodings: [string, Buffer][] = [
  ['UTF-16LE', utf16],
  ['UTF-16LE with a BOM', Buffer.concat([Buffer.from([0xff, 0xfe]), utf16])],
  ['UTF-16BE with a BOM', Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(utf16).swap16()])],
  ['UTF-32LE', utf32le(samplePing)],
  ['UTF-8 with a BOM', Buffer.from(`\ufeff${samplePing}`, 'utf8')],
  ['an invalid UTF-8 byte first', Buffer.concat([Buffer.from([0xff]), Buffer.from(samplePing)])],
  ['an overlong NUL first', Buffer.concat([Buffer.from([0xc0, 0x80]), Buffer.from(samplePing)])],
  ['Windows-1252 curly quotes', Buffer.from(samplePing.replaceAll('"', '\u0093'), 'latin1')],
  ['UTF-8 curly quotes', Buffer.from(samplePing.replaceAll('"', '\u201c'), 'utf8')],
  ['gzip bytes', gzipSync(samplePing)],
  ['base64 text', Buffer.from(Buffer.from(samplePing).toString('base64'))],
];

const blankBodies: [string, string][] = [
  ['an empty body', ''],
  ['a single space', ' '],
  ['a newline', '\n'],
  ['only whitespace', ' \r\n\t '],
];

/** Valid JSON that is no JSON-RPC message at all: -32600, not -32700. */
const jsonButNotAnObject = [
  'null',
  '0',
  '42',
  '-1.5',
  '1e3',
  '"ping"',
  '""',
  'true',
  'false',
  JSON.stringify(samplePing),
];

const parseError = (name: string, body: string | Buffer): Case =>
  refusal(name, () => postRaw(body), 400, Code.parseError);

const malformedJson: Case[] = [
  ...truncations.map(([name, body]) => parseError(name, body)),
  ...trailingGarbage.map((garbage) => parseError(`followed by ${show(garbage)}`, sample + garbage)),
  ...syntaxErrors.map(([name, body]) => parseError(`with ${name}`, body)),
  ...wrongEncodings.map(([name, body]) => parseError(`encoded as ${name}`, body)),
  ...blankBodies.map(([name, body]) => parseError(name, body)),
  ...jsonButNotAnObject.map((body) =>
    refusal(`the JSON value ${show(body)}`, () => postRaw(body), 400, Code.invalidRequest),
  ),
];

// ---------------------------------------------------------------------------------------------------
// Invalid JSON-RPC envelopes

/** Two shapes of a valid request, each bent in one way by the tables below. */
const shapes: [string, string, Record<string, unknown>][] = [
  ['ping', 'ping', {}],
  ['tools/call', 'tools/call', { name: 'echo', arguments: { text: 'hi' } }],
];

const badJsonrpc = [absent, '1.0', '2', '2.00', ' 2.0', '', 2, 1, null, true, ['2.0'], { version: '2.0' }];
const badMethods = [1, 0, 1.5, null, true, false, {}, [], ['ping'], { name: 'ping' }];
const badIds = [{}, { id: 1 }, [], [1], 1.5, -0.5, 0.001, true, false, null];
const badParams = [[], ['echo'], [1, 2], 'x', '', 0, 42, true, false, null];
const badMeta = ['x', '', 1, 0, true, false, null, [], [{}]];
/** With `jsonrpc` and an id but no method: neither a request nor a valid response. */
const notResponses: Record<string, unknown>[] = [
  {},
  { result: null },
  { result: 1 },
  { result: 'ok' },
  { result: [] },
  { result: true },
  { error: 'boom' },
  { error: null },
  { error: { code: 'x', message: 'm' } },
  { error: { code: 1.5, message: 'm' } },
  { error: { code: -1 } },
  { error: { message: 'm' } },
  { error: { code: -1, message: 2 } },
];
/** Without an id, so they would be notifications if they were valid. */
const badNotifications: [string, Record<string, unknown>][] = [
  ['jsonrpc missing', { method: 'notifications/initialized' }],
  ['jsonrpc "1.0"', { jsonrpc: '1.0', method: 'notifications/initialized' }],
  ['jsonrpc 2', { jsonrpc: 2, method: 'notifications/initialized' }],
  ['method 1', { jsonrpc: '2.0', method: 1 }],
  ['method null', { jsonrpc: '2.0', method: null }],
  ['params []', { jsonrpc: '2.0', method: 'notifications/initialized', params: [] }],
  ['params "x"', { jsonrpc: '2.0', method: 'notifications/initialized', params: 'x' }],
  ['_meta "x"', { jsonrpc: '2.0', method: 'notifications/initialized', params: { _meta: 'x' } }],
];

const invalidEnvelopes: Case[] = [
  ...badJsonrpc.flatMap((jsonrpc) =>
    shapes.map(([label, method, params]) =>
      invalidMessage(
        `${label} with jsonrpc ${show(jsonrpc)}`,
        message({ jsonrpc, id: nextId(), method, params }),
      ),
    ),
  ),
  ...badMethods.map((method) =>
    invalidMessage(`method ${show(method)}`, { jsonrpc: '2.0', id: nextId(), method }),
  ),
  ...badIds.flatMap((id) =>
    shapes.map(([label, method, params]) =>
      invalidMessage(`${label} with id ${show(id)}`, { jsonrpc: '2.0', id, method, params }),
    ),
  ),
  ...badParams.flatMap((params) =>
    shapes.map(([label, method]) =>
      invalidMessage(`${label} with params ${show(params)}`, {
        jsonrpc: '2.0',
        id: nextId(),
        method,
        params,
      }),
    ),
  ),
  ...badMeta.flatMap((meta) =>
    shapes.map(([label, method, params]) =>
      invalidMessage(`${label} with _meta ${show(meta)}`, {
        jsonrpc: '2.0',
        id: nextId(),
        method,
        params: { ...params, _meta: meta },
      }),
    ),
  ),
  ...notResponses.map((members) =>
    invalidMessage(`no method and ${show(members)}`, { jsonrpc: '2.0', id: nextId(), ...members }),
  ),
  ...badNotifications.map(([name, value]) => invalidMessage(`notification with ${name}`, value)),
];

// ---------------------------------------------------------------------------------------------------
// Unknown methods

const families = [
  'tools',
  'prompts',
  'resources',
  'completion',
  'logging',
  'sampling',
  'roots',
  'elicitation',
  'tasks',
  'lookout',
];
const verbs = ['nope', 'delete', 'LIST'];
const oddMethods = [
  '',
  ' ',
  'ping ',
  ' ping',
  'PING',
  'Ping',
  'tools/list/',
  '/tools/list',
  'tools//list',
  'tools.list',
  'tools_list',
  'rpc.discover',
  'initialized',
  'notifications/initialized',
  'notifications/cancelled',
  'sampling/createMessage',
  'elicitation/create',
  'roots/list',
  'tasks/list',
  'tasks/get',
  'méthode',
  'm'.repeat(300),
];

const unknownMethods: Case[] = [
  ...families.flatMap((family) => verbs.map((verb) => `${family}/${verb}`)),
  ...oddMethods,
].map((method) => rpcError(`method ${show(method)}`, method, undefined, Code.methodNotFound));

// ---------------------------------------------------------------------------------------------------
// tools/call params

const notStrings = [1, 0, 1.5, null, true, {}, [], ['echo'], { name: 'echo' }];
const unknownTools = [
  'nope',
  'ECHO',
  'Echo',
  'echo ',
  ' echo',
  'echo2',
  'ech',
  'echo\n',
  'echo\u0000',
  'lookout',
  'lookout.',
  'lookout.healthz',
  'Lookout.health',
  'lookout..health',
  'tools/echo',
  'everything__echo',
  '',
  '*',
  't'.repeat(256),
  'ëcho',
];
const notRecords = [1, 0, 'text', '', true, false, null, [], ['hi'], [{ text: 'hi' }]];
const notEchoText = [0, 1, -1, 1.5, 1e21, true, false, null, {}, { text: 'hi' }, [], ['hi']];
/** Arguments for echo in which `text` is missing. */
const echoWithoutText: [string, unknown][] = [
  ['arguments {}', {}],
  ['arguments left out', absent],
  ['Text instead of text', { Text: 'hi' }],
  ['txt instead of text', { txt: 'hi' }],
  ['only another key', { other: 'hi' }],
];
/** Wrong arguments for the other built-in tools: tool, argument, value. */
const otherToolArguments: [string, string, unknown][] = [
  ['lookout.sessions', 'limit', 0],
  ['lookout.sessions', 'limit', -1],
  ['lookout.sessions', 'limit', 1001],
  ['lookout.sessions', 'limit', 1.5],
  ['lookout.sessions', 'limit', '10'],
  ['lookout.sessions', 'limit', null],
  ['lookout.sessions', 'limit', true],
  ['lookout.logs.query', 'level', 'loud'],
  ['lookout.logs.query', 'level', 1],
  ['lookout.logs.query', 'level', ''],
  ['lookout.logs.query', 'traceId', 'xyz'],
  ['lookout.logs.query', 'traceId', 'A'.repeat(32)],
  ['lookout.logs.query', 'traceId', 1],
  ['lookout.logs.query', 'limit', 0],
];

const toolsCallParams: Case[] = [
  ...(
    [
      ['params {}', {}],
      ['params without name', { arguments: { text: 'hi' } }],
      ['params with only _meta', { _meta: {} }],
      ['no params', undefined],
    ] as const
  ).map(([name, params]) => rpcError(name, 'tools/call', params, Code.invalidParams, ['params.name'])),
  ...notStrings.map((name) =>
    rpcError(`name ${show(name)}`, 'tools/call', { name, arguments: { text: 'hi' } }, Code.invalidParams, [
      'params.name',
    ]),
  ),
  ...unknownTools.map((name) =>
    rpcError(`unknown tool ${show(name)}`, 'tools/call', { name, arguments: {} }, Code.invalidParams),
  ),
  ...['echo', 'lookout.health'].flatMap((tool) =>
    notRecords.map((args) =>
      rpcError(
        `${tool} with arguments ${show(args)}`,
        'tools/call',
        { name: tool, arguments: args },
        Code.invalidParams,
        ['params.arguments'],
      ),
    ),
  ),
  ...notEchoText.map((text) =>
    rpcError(
      `echo with text ${show(text)}`,
      'tools/call',
      { name: 'echo', arguments: { text } },
      Code.invalidParams,
      ['text'],
    ),
  ),
  ...echoWithoutText.map(([name, args]) =>
    rpcError(
      `echo with ${name}`,
      'tools/call',
      message({ name: 'echo', arguments: args }),
      Code.invalidParams,
      ['text'],
    ),
  ),
  ...otherToolArguments.map(([tool, key, value]) =>
    rpcError(
      `${tool} with ${key} ${show(value)}`,
      'tools/call',
      { name: tool, arguments: { [key]: value } },
      Code.invalidParams,
      [key],
    ),
  ),
];

// ---------------------------------------------------------------------------------------------------
// prompts/get, resources/read, completion/complete and other params

const unknownPrompts = ['nope', 'greet', 'echo', '', 'Greet', 'p'.repeat(200), 'a/b', 'prompt with spaces'];
const unknownUris = [
  'file:///nope',
  'file:///etc/passwd',
  'lookout://health',
  'http://127.0.0.1/',
  'https://example.com/x',
  'urn:x:y',
  'mcp://nothing',
  '',
  'not a uri',
  'data:text/plain,hi',
  '../../etc/passwd',
];
/** Malformed params of prompts/get, resources/read, completion/complete and others, with the failing path. */
const badParamsByMethod: [string, Record<string, unknown>, string][] = [
  ['prompts/get', {}, 'params.name'],
  ['prompts/get', { name: 1 }, 'params.name'],
  ['prompts/get', { name: null }, 'params.name'],
  ['prompts/get', { name: {} }, 'params.name'],
  ['prompts/get', { name: 'nope', arguments: [] }, 'params.arguments'],
  ['prompts/get', { name: 'nope', arguments: 'x' }, 'params.arguments'],
  ['prompts/get', { name: 'nope', arguments: 1 }, 'params.arguments'],
  ['prompts/get', { name: 'nope', arguments: { a: 1 } }, 'params.arguments.a'],
  ['prompts/get', { name: 'nope', arguments: { a: null } }, 'params.arguments.a'],
  ['prompts/get', { name: 'nope', arguments: { a: {} } }, 'params.arguments.a'],
  ['prompts/get', { name: 'nope', arguments: { a: true } }, 'params.arguments.a'],
  ['resources/read', {}, 'params.uri'],
  ['resources/read', { uri: 1 }, 'params.uri'],
  ['resources/read', { uri: null }, 'params.uri'],
  ['resources/read', { uri: {} }, 'params.uri'],
  ['resources/read', { uri: [] }, 'params.uri'],
  ['resources/read', { uri: true }, 'params.uri'],
  ['completion/complete', { argument: { name: 'a', value: '' } }, 'params.ref'],
  ['completion/complete', { ref: 'ref/prompt', argument: { name: 'a', value: '' } }, 'params.ref'],
  ['completion/complete', { ref: {}, argument: { name: 'a', value: '' } }, 'params.ref.type'],
  ['completion/complete', { ref: { type: 1 }, argument: { name: 'a', value: '' } }, 'params.ref.type'],
  [
    'completion/complete',
    { ref: { type: 'ref/prompt', name: 1 }, argument: { name: 'a', value: '' } },
    'params.ref.name',
  ],
  ['completion/complete', { ref: { type: 'ref/prompt', name: 'p' } }, 'params.argument'],
  [
    'completion/complete',
    { ref: { type: 'ref/prompt', name: 'p' }, argument: { name: 'a' } },
    'params.argument.value',
  ],
  [
    'completion/complete',
    { ref: { type: 'ref/prompt', name: 'p' }, argument: { name: 'a', value: 1 } },
    'params.argument.value',
  ],
  [
    'completion/complete',
    {
      ref: { type: 'ref/prompt', name: 'p' },
      argument: { name: 'a', value: '' },
      context: { arguments: { b: 1 } },
    },
    'params.context.arguments.b',
  ],
  ['logging/setLevel', {}, 'params.level'],
  ['logging/setLevel', { level: 'loud' }, 'params.level'],
  ['logging/setLevel', { level: 'INFO' }, 'params.level'],
  ['logging/setLevel', { level: 1 }, 'params.level'],
  ['resources/subscribe', { uri: 1 }, 'params.uri'],
  ['resources/unsubscribe', {}, 'params.uri'],
];
/** completion/complete refs Lookout cannot complete. */
const badRefs: Record<string, unknown>[] = [
  { type: 'ref/tool', name: 'echo' },
  { type: 'ref/unknown', name: 'x' },
  { type: '', name: 'x' },
  { type: 'prompt', name: 'x' },
  { type: 'resource', uri: 'file:///x' },
  { type: 'REF/PROMPT', name: 'x' },
  { type: 'ref/prompt' },
  { type: 'ref/resource' },
  { type: 'ref/prompt', name: 'nope' },
  { type: 'ref/prompt', name: '' },
  { type: 'ref/resource', uri: 'file:///nope' },
  { type: 'ref/resource', uri: 'lookout://{x}' },
  { type: 'ref/resource', uri: '' },
];

const promptsResourcesCompletion: Case[] = [
  ...unknownPrompts.flatMap((name) => [
    rpcError(`prompts/get ${show(name)}`, 'prompts/get', { name }, Code.invalidParams),
    rpcError(
      `prompts/get ${show(name)} with arguments`,
      'prompts/get',
      { name, arguments: { name: 'Ada' } },
      Code.invalidParams,
    ),
  ]),
  ...unknownUris.map((uri) =>
    rpcError(`resources/read ${show(uri)}`, 'resources/read', { uri }, Code.invalidParams),
  ),
  ...badRefs.map((ref) =>
    rpcError(
      `completion/complete ref ${show(ref)}`,
      'completion/complete',
      { ref, argument: { name: 'a', value: '' } },
      Code.invalidParams,
    ),
  ),
  ...badParamsByMethod.map(([method, params, path]) =>
    rpcError(`${method} with ${show(params)}`, method, params, Code.invalidParams, [path]),
  ),
];

// ---------------------------------------------------------------------------------------------------
// HTTP-level refusals

const wrongContentTypes = [
  undefined,
  '',
  'text/plain',
  'text/plain; charset=utf-8',
  'text/json',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/jsonx',
  'application/json-rpc',
  'application/vnd.api+json',
  'application/ld+json',
  'application/javascript',
  'application/octet-stream',
  'text/event-stream',
  'json',
  'application/json5',
  '*/*',
  'application/*',
];
const postAcceptsLacking = [
  undefined,
  '',
  'application/json',
  'text/event-stream',
  'text/html',
  'application/*',
  'text/*',
  'application/xml',
  'application/json; q=1',
  'text/event-stream;charset=utf-8',
  'application/jsonx, text/event-stream',
  'application/json, text/plain',
  'application/json, text/event-streams',
  'application/json text/event-stream',
  'image/*, application/json',
];
const getAcceptsLacking = [
  undefined,
  'application/json',
  'text/html',
  'application/*',
  'text/plain, application/json',
];
const unsupportedVersions = [
  '1999-01-01',
  '2025-11-26',
  '2026-01-01',
  '2025-13-01',
  '2025-11-25-draft',
  '2025/11/25',
  '20251125',
  'v2025-11-25',
  'latest',
  'DRAFT-2026-v1',
  '',
  '2025-11-25, 2025-06-18',
  '2024-11-5',
  '1.0',
  '0',
];
const withoutSession: [string, () => Exchange][] = [
  ['POST ping', () => ({ headers: sessionHeaders('none'), body: JSON.stringify(ping()) })],
  [
    'POST tools/list',
    () => ({ headers: sessionHeaders('none'), body: JSON.stringify(rpcRequest('tools/list')) }),
  ],
  ['POST tools/call echo', () => ({ headers: sessionHeaders('none'), body: JSON.stringify(echo()) })],
  [
    'POST an unknown method',
    () => ({ headers: sessionHeaders('none'), body: JSON.stringify(rpcRequest('no/such')) }),
  ],
  [
    'POST a notification',
    () => ({
      headers: sessionHeaders('none'),
      body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }),
    }),
  ],
  [
    'POST a response',
    () => ({ headers: sessionHeaders('none'), body: JSON.stringify({ jsonrpc: '2.0', id: 1, result: {} }) }),
  ],
  [
    'POST with a protocol version',
    () => ({
      headers: { ...sessionHeaders('none'), 'mcp-protocol-version': '2025-11-25' },
      body: JSON.stringify(ping()),
    }),
  ],
  ['GET the stream', () => ({ method: 'GET', headers: { accept: 'text/event-stream' } })],
  ['DELETE', () => ({ method: 'DELETE' })],
];
const unknownSessionIds: [string, () => string][] = [
  ['"nope"', () => 'nope'],
  ['a random UUID', () => randomUUID()],
  ['the nil UUID', () => '00000000-0000-0000-0000-000000000000'],
  ['the session id with a suffix', () => `${state.current}x`],
  ['the session id cut short', () => state.current.slice(0, -1)],
  ['the session id upper-cased', () => state.current.toUpperCase()],
  ['a deleted session id', () => state.ended],
  ['512 characters', () => 'a'.repeat(512)],
  ['an empty id', () => ''],
  ['"0"', () => '0'],
];
const sessionExchanges: [string, (session: string) => Exchange][] = [
  [
    'POST ping',
    (session) => ({ headers: { ...mcpHeaders, 'mcp-session-id': session }, body: JSON.stringify(ping()) }),
  ],
  [
    'POST tools/call echo',
    (session) => ({ headers: { ...mcpHeaders, 'mcp-session-id': session }, body: JSON.stringify(echo()) }),
  ],
  [
    'GET the stream',
    (session) => ({ method: 'GET', headers: { accept: 'text/event-stream', 'mcp-session-id': session } }),
  ],
  ['DELETE', (session) => ({ method: 'DELETE', headers: { 'mcp-session-id': session } })],
];
const oversizedBodies = [maxBodyBytes + 1, maxBodyBytes + 4, 5000, 8192, 16384];
const foreignHosts = [
  'evil.example',
  'evil.example:{port}',
  'localhost.evil.example',
  'attacker.test:{port}',
  'example.com:80',
  'localhostx:{port}',
  '192.168.1.10',
  '10.0.0.1:{port}',
  '0.0.0.0:{port}',
  '169.254.169.254',
  '[::2]:{port}',
  '[fe80::1]',
];
const foreignOrigins = [
  'http://evil.example',
  'http://evil.example:{port}',
  'https://evil.example',
  'http://localhost.evil.example:{port}',
  'http://0.0.0.0:{port}',
  'http://192.168.1.10',
  'http://[::2]:{port}',
  'null',
  'file://',
  'chrome-extension://abcdefghijklmnop',
  'not a url',
];
/** A value with `{port}` standing for the port Lookout listens on. */
const withPort = (value: string) => value.replaceAll('{port}', state.url.port);

const contentTypes: Case[] = wrongContentTypes.map((type) =>
  refusal(
    `Content-Type ${show(type ?? absent)}`,
    () => post(ping(), { 'content-type': type }),
    415,
    Code.invalidRequest,
  ),
);
const accepts: Case[] = [
  ...postAcceptsLacking.map((accept) =>
    refusal(
      `POST with Accept ${show(accept ?? absent)}`,
      () => post(ping(), { accept }),
      406,
      Code.invalidRequest,
    ),
  ),
  ...getAcceptsLacking.map((accept) =>
    refusal(
      `GET with Accept ${show(accept ?? absent)}`,
      () => ({ method: 'GET', headers: { accept, 'mcp-session-id': state.current } }),
      406,
      Code.invalidRequest,
    ),
  ),
];
const protocolVersions: Case[] = unsupportedVersions.flatMap((version) => [
  refusal(
    `MCP-Protocol-Version ${show(version)} on the 2025-11-25 session`,
    () => post(ping(), { 'mcp-protocol-version': version }),
    400,
    Code.invalidRequest,
  ),
  refusal(
    `MCP-Protocol-Version ${show(version)} on the 2025-03-26 session`,
    () => ({
      headers: { ...sessionHeaders('legacy'), 'mcp-protocol-version': version },
      body: JSON.stringify(echo()),
    }),
    400,
    Code.invalidRequest,
  ),
]);
const missingSession: Case[] = withoutSession.map(([name, exchange]) =>
  refusal(`${name} without Mcp-Session-Id`, exchange, 400, Code.invalidRequest),
);
const unknownSessions: Case[] = unknownSessionIds.flatMap(([idName, sessionId]) =>
  sessionExchanges.map(([name, exchange]) =>
    refusal(`${name} with ${idName}`, () => exchange(sessionId()), 404, Code.sessionNotFound),
  ),
);
const tooLarge: Case[] = oversizedBodies.flatMap((bytes) => [
  refusal(`${bytes} bytes with Content-Length`, () => postRaw(pingOfSize(bytes)), 413, Code.invalidRequest),
  refusal(
    `${bytes} bytes chunked`,
    () => {
      const body = pingOfSize(bytes);
      const half = Math.floor(body.length / 2);
      return { headers: sessionHeaders('current'), chunks: [body.slice(0, half), body.slice(half)] };
    },
    413,
    Code.invalidRequest,
  ),
  refusal(
    `${bytes} bytes without a session`,
    () => ({ headers: sessionHeaders('none'), body: pingOfSize(bytes) }),
    413,
    Code.invalidRequest,
  ),
]);
const otherHttpMethods: Case[] = ['PUT', 'PATCH'].flatMap((method) =>
  (
    [
      ['a JSON-RPC body', () => ({ ...post(ping()), method })],
      ['no body', () => ({ method, headers: sessionHeaders('current') })],
      ['no headers', () => ({ method })],
      ['a text body', () => ({ method, headers: { 'content-type': 'text/plain' }, body: 'hello' })],
    ] as const
  ).map(([name, exchange]) =>
    refusal(`${method} with ${name}`, exchange, 405, Code.invalidRequest, { allow: 'GET, POST, DELETE' }),
  ),
);
const foreignHostOrOrigin: Case[] = [
  ...foreignHosts.flatMap((host) => [
    refusal(
      `Host ${host} on POST /mcp`,
      () => post(ping(), { host: withPort(host) }),
      403,
      Code.invalidRequest,
    ),
    refusal(
      `Host ${host} on GET /health/live`,
      () => ({ method: 'GET', path: '/health/live', headers: { host: withPort(host) } }),
      403,
      Code.invalidRequest,
    ),
  ]),
  ...foreignOrigins.map((origin) =>
    refusal(
      `Origin ${origin} on POST /mcp`,
      () => post(ping(), { origin: withPort(origin) }),
      403,
      Code.invalidRequest,
    ),
  ),
];

// ---------------------------------------------------------------------------------------------------
// Batches

/** Requests that each fail on their own; batched in a 2025-03-26 session, each gets its error back. */
const failingRequests: [string, () => [Record<string, unknown>, ExpectedError]][] = [
  ['an unknown method', () => expectFor(rpcRequest('no/such'), Code.methodNotFound)],
  [
    'an unknown tool',
    () => expectFor(rpcRequest('tools/call', { name: 'nope', arguments: {} }), Code.invalidParams),
  ],
  ['bad echo arguments', () => expectFor(echo(1), Code.invalidParams, ['text'])],
  [
    'tools/call without a name',
    () => expectFor(rpcRequest('tools/call', {}), Code.invalidParams, ['params.name']),
  ],
  ['an unknown prompt', () => expectFor(rpcRequest('prompts/get', { name: 'nope' }), Code.invalidParams)],
  [
    'an unknown resource',
    () => expectFor(rpcRequest('resources/read', { uri: 'file:///nope' }), Code.invalidParams),
  ],
  [
    'a bad completion ref',
    () =>
      expectFor(
        rpcRequest('completion/complete', { ref: { type: 'ref/tool' }, argument: { name: 'a', value: '' } }),
        Code.invalidParams,
      ),
  ],
];

function expectFor(
  value: Record<string, unknown>,
  code: number,
  paths?: readonly string[],
): [Record<string, unknown>, ExpectedError] {
  return [value, { code, id: value.id as RequestId, paths }];
}

function legacyBatch(name: string, parts: readonly (typeof failingRequests)[number][]): Case {
  const built = parts.map(([, build]) => build());
  const notification = { jsonrpc: '2.0', method: 'notifications/initialized' };
  return {
    name,
    exchange: () => ({
      headers: sessionHeaders('legacy'),
      body: JSON.stringify([...built.map(([value]) => value), notification]),
    }),
    status: 200,
    reply: built.map(([, expected]) => expected),
  };
}

const batchesIn20251125: [string, () => unknown[]][] = [
  ['[ping]', () => [ping()]],
  ['[ping, ping]', () => [ping(), ping()]],
  ['[tools/list]', () => [rpcRequest('tools/list')]],
  ['[tools/call echo]', () => [echo()]],
  ['[a notification]', () => [{ jsonrpc: '2.0', method: 'notifications/initialized' }]],
  ['[a response]', () => [{ jsonrpc: '2.0', id: 1, result: {} }]],
  ['[ping, a notification]', () => [ping(), { jsonrpc: '2.0', method: 'notifications/initialized' }]],
  ['[an unknown method]', () => [rpcRequest('no/such')]],
  ['40 pings', () => Array.from({ length: 40 }, () => ping())],
  ['[] (empty)', () => []],
  ['[ping] nested in a batch', () => [[ping()]]],
  ['[initialize, ping]', () => [rpcRequest('initialize', { protocolVersion: '2025-11-25' }), ping()]],
];

const batches: Case[] = [
  ...batchesIn20251125.map(([name, build]) =>
    refusal(`${name} in a 2025-11-25 session`, () => post(build()), 400, Code.invalidRequest),
  ),
  refusal(
    '[] (empty) in a 2025-03-26 session',
    () => ({ headers: sessionHeaders('legacy'), body: '[]' }),
    400,
    Code.invalidRequest,
  ),
  refusal(
    '[initialize, ping] in a 2025-03-26 session',
    () => ({
      headers: sessionHeaders('legacy'),
      body: JSON.stringify([rpcRequest('initialize', { protocolVersion: '2025-03-26' }), ping()]),
    }),
    400,
    Code.invalidRequest,
  ),
  ...failingRequests.flatMap((first, i) =>
    failingRequests
      .slice(i + 1)
      .map((second) => legacyBatch(`[${first[0]}, ${second[0]}] in a 2025-03-26 session`, [first, second])),
  ),
  legacyBatch('all failing requests together in a 2025-03-26 session', failingRequests),
];

// ---------------------------------------------------------------------------------------------------
// Checks

const categories: [string, Case[]][] = [
  ['malformed JSON bodies', malformedJson],
  ['invalid JSON-RPC envelopes', invalidEnvelopes],
  ['unknown methods', unknownMethods],
  ['tools/call param errors', toolsCallParams],
  ['prompts/get, resources/read, completion/complete and other params', promptsResourcesCompletion],
  ['wrong Content-Type', contentTypes],
  ['Accept lacking json or event-stream', accepts],
  ['unsupported MCP-Protocol-Version', protocolVersions],
  ['missing Mcp-Session-Id', missingSession],
  ['unknown session ids', unknownSessions],
  ['bodies over the limit', tooLarge],
  ['other HTTP methods on /mcp', otherHttpMethods],
  ['foreign Host or Origin', foreignHostOrOrigin],
  ['batches', batches],
];

/** A secret in Lookout's config (an upstream's credentials): no reply may ever contain it. */
const configuredSecret = 'sekr1t-upstream-credential';

const stackTraces = [/at .*\.(ts|js):\d+/, /Error:\s+at/];

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isBatchReply(reply: Case['reply']): reply is readonly ExpectedError[] {
  return Array.isArray(reply);
}

function assertEnvelope(value: unknown, expected: ExpectedError, text: string): void {
  assert.ok(isObject(value), `not a JSON-RPC envelope: ${text}`);
  assert.equal(value.jsonrpc, '2.0', text);
  assert.equal(value.id, expected.id, text);
  assert.equal('result' in value, false, text);
  const error = value.error;
  assert.ok(isObject(error), `no error object: ${text}`);
  assert.equal(error.code, expected.code, text);
  assert.equal(typeof error.message, 'string', text);
  assert.ok((error.message as string).length > 0, `empty error message: ${text}`);
  if (expected.paths) {
    const issues = isObject(error.data) ? error.data.issues : undefined;
    assert.ok(Array.isArray(issues), `no error.data.issues: ${text}`);
    assert.deepEqual(
      issues.map((issue: unknown) => (isObject(issue) ? issue.path : undefined)),
      expected.paths,
      text,
    );
  }
}

async function check(c: Case): Promise<void> {
  const res = await send(c.exchange());
  assert.equal(res.status, c.status, res.text);
  for (const pattern of stackTraces) assert.doesNotMatch(res.text, pattern, 'a stack trace in the reply');
  assert.ok(!res.text.includes(configuredSecret), 'a configured secret in the reply');
  assert.match(res.headers['content-type'] ?? '', /^application\/json\b/, res.text);
  for (const [name, value] of Object.entries(c.headers ?? {})) assert.equal(res.headers[name], value, name);
  const body: unknown = JSON.parse(res.text);
  if (!isBatchReply(c.reply)) {
    assertEnvelope(body, c.reply, res.text);
    return;
  }
  assert.ok(Array.isArray(body), `a batch must be answered with an array: ${res.text}`);
  assert.equal(body.length, c.reply.length, res.text);
  for (const expected of c.reply) {
    const reply: unknown = body.find((r: unknown) => isObject(r) && r.id === expected.id);
    assertEnvelope(reply, expected, res.text);
  }
}

describe('generated bad input: exact statuses and JSON-RPC errors, no stack traces, and Lookout keeps serving', () => {
  let lookout: Lookout;

  before(async () => {
    lookout = await startTestLookout({
      mcp: { maxBodyBytes },
      // An upstream nobody listens for, with credentials in its headers; it stays down and serves nothing.
      upstreams: [
        {
          name: 'vault',
          transport: 'http',
          url: 'http://127.0.0.1:9/mcp',
          headers: { authorization: `Bearer ${configuredSecret}` },
          timeouts: { connectSeconds: 1 },
        },
      ],
    });
    state.url = new URL(lookout.url);
    state.current = await openSession(lookout.url);
    state.legacy = await openSession(lookout.url, '2025-03-26');
    state.ended = await openSession(lookout.url);
    const deleted = await send({ method: 'DELETE', headers: { 'mcp-session-id': state.ended } });
    assert.equal(deleted.status, 200);
  });
  after(() => lookout.close());

  for (const [category, cases] of categories) {
    describe(category, () => {
      for (const c of cases) it(c.name, () => check(c));
    });
  }

  describe('afterwards', () => {
    it('accepts a body of exactly the limit', async () => {
      const res = await send(postRaw(pingOfSize(maxBodyBytes)));
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(JSON.parse(res.text), { jsonrpc: '2.0', id: 1, result: {} });
    });

    it('is still ready', async () => {
      const res = await send({ method: 'GET', path: '/health/ready' });
      assert.equal(res.status, 200, res.text);
    });

    it('still serves tools/call echo', async () => {
      const res = await send(
        post({
          jsonrpc: '2.0',
          id: 'last',
          method: 'tools/call',
          params: { name: 'echo', arguments: { text: 'ok' } },
        }),
      );
      assert.equal(res.status, 200, res.text);
      assert.deepEqual(JSON.parse(res.text), {
        jsonrpc: '2.0',
        id: 'last',
        result: { content: [{ type: 'text', text: 'ok' }] },
      });
    });

    it('ran at least 200 generated cases', () => {
      const count = categories.reduce((sum, [, cases]) => sum + cases.length, 0);
      process.stdout.write(`bad-input: ${count} cases\n`);
      assert.ok(count >= 200, `only ${count} cases`);
    });
  });
});
