import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { z } from 'zod';
import { LookoutError } from '../../src/errors/catalog.ts';
import { TaskStore } from '../../src/mcp/tasks.ts';

const answer = z.object({ action: z.string(), content: z.record(z.string(), z.unknown()).optional() });
const ask = (message: string) => ({ method: 'elicitation/create', params: { message } });
const settled = () => new Promise((resolve) => setImmediate(resolve));

function store() {
  return new TaskStore({ ttlMs: 60_000, pollIntervalMs: 100, max: 2 });
}

describe('tasks', () => {
  it('parks on questions until every one is answered, showing only those still open', async () => {
    const tasks = store();
    const created = tasks.create('alice', { elicitation: {} }, async (handle) => {
      const [a, b] = await Promise.all([
        handle.request(ask('first?'), answer, 'first'),
        handle.request(ask('second?'), answer, 'second'),
      ]);
      return { content: [{ type: 'text', text: `${a.content?.name} ${b.content?.name}` }] };
    });
    assert.equal(created.resultType, 'task');
    const id = created.taskId as string;
    await settled();
    assert.deepEqual(Object.keys(tasks.get(id, 'alice').inputRequests as object), ['first', 'second']);
    tasks.update(id, 'alice', { first: { action: 'accept', content: { name: 'Ada' } }, stray: {} });
    await settled();
    const half = tasks.get(id, 'alice');
    assert.equal(half.status, 'input_required');
    assert.deepEqual(Object.keys(half.inputRequests as object), ['second']);
    tasks.update(id, 'alice', { second: { action: 'accept', content: { name: 'Grace' } } });
    await settled();
    const done = tasks.get(id, 'alice');
    assert.equal(done.status, 'completed');
    assert.deepEqual(done.result, { content: [{ type: 'text', text: 'Ada Grace' }] });
    tasks.close();
  });

  it('cancels a running task once, aborting its handler; later cancels change nothing', async () => {
    const tasks = store();
    let aborted = false;
    const { taskId } = tasks.create('alice', {}, (handle) => {
      handle.signal.addEventListener('abort', () => {
        aborted = true;
      });
      return new Promise(() => {});
    });
    assert.deepEqual(tasks.cancel(taskId as string, 'alice'), {});
    assert.equal(aborted, true);
    assert.deepEqual(tasks.cancel(taskId as string, 'alice'), {});
    assert.equal(tasks.get(taskId as string, 'alice').status, 'cancelled');
    tasks.close();
  });

  it('reports a thrown catalog error as a failed task with its code, and hides tasks from other callers', async () => {
    const tasks = store();
    const { taskId } = tasks.create('alice', {}, () => Promise.reject(new LookoutError('INTERNAL', 'boom')));
    await settled();
    const failed = tasks.get(taskId as string, 'alice');
    assert.equal(failed.status, 'failed');
    assert.equal((failed.error as { code: number }).code, -32603);
    assert.equal('result' in failed, false);
    assert.throws(
      () => tasks.get(taskId as string, 'mallory'),
      (e: LookoutError) => e.code === -32602,
    );
    assert.throws(
      () => tasks.get('no-such-task', 'alice'),
      (e: LookoutError) => e.code === -32602,
    );
    tasks.close();
  });

  it('refuses a question the client cannot answer, and more tasks than allowed', async () => {
    const tasks = store();
    const { taskId } = tasks.create('alice', {}, (handle) =>
      handle.request(ask('?'), answer, undefined).then(() => ({ content: [] })),
    );
    await settled();
    const failed = tasks.get(taskId as string, 'alice');
    assert.equal((failed.error as { code: number }).code, -32021);
    tasks.create('alice', {}, () => new Promise(() => {}));
    assert.throws(() => tasks.create('alice', {}, () => new Promise(() => {})), /too many tasks/);
    tasks.close();
  });
});
