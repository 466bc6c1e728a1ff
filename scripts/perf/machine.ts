/**
 * How busy the machine was with work other than the gate's own (Linux /proc): the share of all CPUs
 * that other processes, or the hypervisor (steal), took while a round ran. A measurement taken while
 * that share was high says more about the neighbours than about Lookout.
 */
import { readdirSync, readFileSync } from 'node:fs';

interface CpuSample {
  readonly at: number;
  /** Busy CPU time of the whole machine (all CPUs, steal included), in clock ticks. */
  readonly machine: number;
  /** CPU time of this process and every live descendant, reaped children included, in clock ticks. */
  readonly ours: number;
}

/** Linux's USER_HZ, the unit of /proc/stat and /proc/<pid>/stat times. */
const ticksPerSecond = 100;

/** Every CPU of the machine, whatever this process's affinity. */
const cpuCount = readFileSync('/proc/stat', 'utf8')
  .split('\n')
  .filter((line) => /^cpu\d+ /.test(line)).length;

function machineBusyTicks(): number {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  const [, , , idle = 0, iowait = 0] = fields;
  // user nice system idle iowait irq softirq steal (guest time is already inside user).
  return fields.slice(0, 8).reduce((sum, value) => sum + value, 0) - idle - iowait;
}

/** pid → [parent pid, utime + stime + cutime + cstime] of every process we may read. */
function processTimes(): Map<number, [number, number]> {
  const times = new Map<number, [number, number]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command name, which is in parentheses and may hold spaces.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const [utime, stime, cutime, cstime] = [11, 12, 13, 14].map((i) => Number(rest[i]));
      times.set(Number(entry), [
        Number(rest[1]),
        (utime ?? 0) + (stime ?? 0) + (cutime ?? 0) + (cstime ?? 0),
      ]);
    } catch {
      // gone meanwhile
    }
  }
  return times;
}

function ourTicks(): number {
  const times = processTimes();
  const children = new Map<number, number[]>();
  for (const [pid, [parent]] of times) children.set(parent, [...(children.get(parent) ?? []), pid]);
  let total = 0;
  const pending = [process.pid];
  while (pending.length > 0) {
    const pid = pending.pop() as number;
    total += times.get(pid)?.[1] ?? 0;
    pending.push(...(children.get(pid) ?? []));
  }
  return total;
}

export function sampleCpu(): CpuSample {
  return { at: performance.now(), machine: machineBusyTicks(), ours: ourTicks() };
}

/** The share (0–1) of the machine's CPU capacity used by others between two samples. */
export function foreignShare(from: CpuSample, to: CpuSample): number {
  const capacity = ((to.at - from.at) / 1000) * ticksPerSecond * cpuCount;
  const foreign = to.machine - from.machine - (to.ours - from.ours);
  return capacity > 0 ? Math.max(0, foreign / capacity) : 0;
}
