#!/usr/bin/env node
/**
 * The `lookout` command's entry. It checks the Node.js version before anything else loads, so that an
 * older Node prints what is needed instead of a link error about an API it lacks. Keep this file free
 * of static imports and of newer syntax.
 */
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
const supported = major > 23 || (major === 23 && minor >= 5) || (major === 22 && minor >= 15);
/** The GC option a command line may already settle, either way. */
const gcThreadingFlag = /^--(no-)?single[-_]threaded[-_]gc$/;

if (supported) {
  // On one CPU, V8's concurrent marking and parallel scavenging threads take turns with the one thread
  // serving requests, and a marking they fall behind on is finished in one long main-thread step (tens
  // of ms). Single-threaded GC marks in short steps instead. V8 reads it only at start, so the process
  // replaces itself once (same PID and stdio), unless the command line already chose.
  const { availableParallelism } = await import('node:os');
  if (
    availableParallelism() === 1 &&
    typeof process.execve === 'function' &&
    !process.execArgv.some((arg) => gcThreadingFlag.test(arg))
  ) {
    process.execve(process.execPath, [
      process.execPath,
      '--single-threaded-gc',
      ...process.execArgv,
      ...process.argv.slice(1),
    ]);
  }
  // Flags V8 reads as it goes (not only at start) are set here, in the process that stays.
  const [{ setFlagsFromString }, { runtimeV8Flags }] = await Promise.all([
    import('node:v8'),
    import('./cli/v8-flags.ts'),
  ]);
  for (const flag of runtimeV8Flags(process.execArgv)) setFlagsFromString(flag);
  // V8's code cache on disk (in os.tmpdir() unless NODE_COMPILE_CACHE names a directory): every start
  // after the first skips compiling most modules. Everything is imported after this line, so is cached.
  const { enableCompileCache } = await import('node:module');
  enableCompileCache();
  await import('./cli/run.ts');
} else {
  process.stderr.write(
    `lookout: Node.js 22.15 or newer is needed (23.5 or newer on the 23 line); this is Node.js ${process.versions.node}.\n` +
      'Run it with a newer node, or through npm in a clone (npm start): its scripts use the Node 24 that npm install put in node_modules.\n',
  );
  process.exitCode = 1;
}
