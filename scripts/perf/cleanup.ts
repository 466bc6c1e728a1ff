/** Cleanup steps that run once, in reverse order, on normal exit and on SIGINT/SIGTERM alike. */
const steps: (() => Promise<void> | void)[] = [];
let running: Promise<void> | undefined;

/** Registers a step; the returned function unregisters it (once it has been done another way). */
export function onCleanup(step: () => Promise<void> | void): () => void {
  steps.push(step);
  return () => {
    const index = steps.indexOf(step);
    if (index >= 0) steps.splice(index, 1);
  };
}

export function cleanup(): Promise<void> {
  running ??= (async () => {
    for (const step of steps.reverse()) {
      try {
        await step();
      } catch (error) {
        process.stderr.write(`cleanup: ${String(error)}\n`);
      }
    }
  })();
  return running;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: stopping\n`);
    void cleanup().then(() => process.exit(130));
  });
}
