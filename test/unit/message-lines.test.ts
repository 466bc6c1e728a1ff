import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MessageLines } from '../../src/upstreams/message-lines.ts';
import type { OversizedMessage } from '../../src/upstreams/oversized.ts';

function reader(limit: number) {
  const lines: string[] = [];
  const oversized: OversizedMessage[] = [];
  const messages = new MessageLines(
    limit,
    (line) => lines.push(line),
    (message) => oversized.push(message),
  );
  return { messages, lines, oversized };
}

/** Feeds `text` in chunks of `size` bytes, as a pipe would deliver it. */
function feed(messages: MessageLines, text: string, size = 7): void {
  const bytes = Buffer.from(text);
  for (let i = 0; i < bytes.length; i += size) messages.push(bytes.subarray(i, i + size));
}

describe("a stdio child's stdout, split into messages of bounded size", () => {
  it('splits lines across chunks, drops blank lines and a trailing CR', () => {
    const { messages, lines } = reader(1000);
    feed(messages, '{"a":1}\r\n\n{"b":2}\n{"c"');
    assert.deepEqual(lines, ['{"a":1}', '{"b":2}']);
    feed(messages, ':3}\n');
    assert.deepEqual(lines.at(-1), '{"c":3}');
  });

  it('splits several whole lines of one chunk; a line of exactly the limit is kept, one byte more is not', () => {
    const { messages, lines, oversized } = reader(8);
    messages.push(Buffer.from('{"a":1}\r\n\n{"b":22}\n{"e":333}\n  \n{"d"'));
    messages.push(Buffer.from(':4}\n'));
    assert.deepEqual(lines, ['{"a":1}', '{"b":22}', '{"d":4}']);
    assert.deepEqual(
      oversized.map((o) => o.bytes),
      [9],
    );
  });

  it('drops a line over the limit, finding its id at the end (TypeScript SDK) or the start (others), then goes on', () => {
    const { messages, lines, oversized } = reader(100);
    const big = 'x'.repeat(500);
    feed(
      messages,
      `{"result":{"content":[{"type":"text","text":"${big}","id":99}]},"jsonrpc":"2.0","id":7}\n`,
    );
    feed(messages, `{"jsonrpc":"2.0","id":"req-8","result":{"text":"${big}"}}\n`);
    feed(messages, `{"result":{"text":"${big}","id":5}}\n`);
    feed(messages, '{"jsonrpc":"2.0","id":9,"result":{}}\n');
    assert.deepEqual(
      oversized.map((o) => o.id),
      [7, 'req-8', undefined],
      'a nested id is not taken for the message id',
    );
    assert.ok(oversized.every((o) => o.bytes > 500 && o.limit === 100));
    assert.deepEqual(lines, ['{"jsonrpc":"2.0","id":9,"result":{}}']);
  });
});
