import assert from 'node:assert/strict';
import { it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Deadlines } from '../../src/mcp/deadlines.ts';

/** Starts a deadline and resolves with how long after its start it expired. */
function expiry(deadlines: Deadlines, ms: number, fired: string[], name: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve) => {
    deadlines.start(ms, () => {
      fired.push(name);
      resolve(performance.now() - started);
    });
  });
}

it('expires each deadline once its time has passed, in the order they fall due, across durations', async () => {
  const deadlines = new Deadlines();
  const fired: string[] = [];
  const long = expiry(deadlines, 120, fired, 'long');
  const short = expiry(deadlines, 30, fired, 'short');
  const second = expiry(deadlines, 30, fired, 'second short');
  const [longAfter, shortAfter, secondAfter] = await Promise.all([long, short, second]);
  assert.deepEqual(fired, ['short', 'second short', 'long']);
  // Node's timers may fire up to a millisecond early by this clock; never more.
  assert.ok(
    shortAfter >= 29 && secondAfter >= 29 && longAfter >= 119,
    `${shortAfter} ${secondAfter} ${longAfter}`,
  );
  assert.ok(longAfter < 2000, `the 120 ms deadline fired after ${longAfter} ms`);
});

it('never expires a cancelled deadline, and one started after it still expires on its own time', async () => {
  const deadlines = new Deadlines();
  const fired: string[] = [];
  deadlines.start(40, () => fired.push('cancelled')).cancel();
  await sleep(25);
  // The duration's timer is still armed for the cancelled deadline: it must not expire this one early.
  const later = await expiry(deadlines, 40, fired, 'later');
  assert.deepEqual(fired, ['later']);
  assert.ok(later >= 39, `expired after ${later} ms`);
  deadlines.start(10, () => fired.push('cancelled too')).cancel();
  await sleep(40);
  assert.deepEqual(fired, ['later']);
});

it('lets a deadline cancel another of its duration as it expires', async () => {
  const deadlines = new Deadlines();
  const fired: string[] = [];
  let next: { cancel(): void } | undefined;
  const done = new Promise<void>((resolve) => {
    deadlines.start(20, () => {
      fired.push('first');
      next?.cancel();
      resolve();
    });
  });
  // Falls due a moment after the first, most often in the same firing of the duration's timer.
  next = deadlines.start(20, () => fired.push('next'));
  await done;
  await sleep(40);
  assert.deepEqual(fired, ['first']);
});

it('takes a second cancel, or a cancel after expiry, as a no-op that leaves the others pending', async () => {
  const deadlines = new Deadlines();
  const fired: string[] = [];
  const twice = deadlines.start(20, () => fired.push('cancelled twice'));
  const expired = deadlines.start(20, () => fired.push('expired'));
  const last = expiry(deadlines, 30, fired, 'last');
  twice.cancel();
  twice.cancel();
  await sleep(25);
  expired.cancel();
  await last;
  assert.deepEqual(fired, ['expired', 'last']);
});

it('lets a cancelled deadline die young: its call is not carried into the old generation', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const oldSpaceUsed = () =>
    getHeapSpaceStatistics().find((space) => space.space_name === 'old_space')?.space_used_size ?? 0;
  const deadlines = new Deadlines();
  const pending: { cancel(): void }[] = [];
  // As under load: every call's deadline started and cancelled, 20 to 32 of them pending at a time.
  const calls = (count: number) => {
    for (let i = 0; i < count; i++) {
      const callState = new Array(200).fill(i);
      pending.push(deadlines.start(60_000, () => callState.length));
      if (pending.length > 20 + (i % 13)) pending.shift()?.cancel();
    }
  };
  calls(1_000);
  // Everything the deadlines keep for good (their list, its timer) is in the old generation now.
  gc();
  gc();
  const before = oldSpaceUsed();
  calls(50_000);
  const grewBytes = oldSpaceUsed() - before;
  for (const deadline of pending) deadline.cancel();
  assert.ok(grewBytes < 500_000, `the old generation grew by ${grewBytes} bytes over 50,000 calls`);
});
