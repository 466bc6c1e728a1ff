/** How many of a child's last stderr lines are kept, and how long each may be. */
const keptLines = 20;
const lineChars = 500;

/** The last lines a child wrote to stderr, bounded: what goes into the error logged when it fails. */
export class StderrTail {
  readonly #lines: string[] = [];
  #partial = '';

  /** Takes a chunk of stderr; calls `onLine` with each complete, non-blank line. */
  push(chunk: string, onLine: (line: string) => void): void {
    const lines = (this.#partial + chunk).split('\n');
    this.#partial = (lines.pop() ?? '').slice(-lineChars * 4);
    for (const raw of lines) {
      const line = raw.replace(/\r$/, '');
      if (!line.trim()) continue;
      this.#keep(line);
      onLine(line);
    }
  }

  #keep(line: string): void {
    this.#lines.push(line.length > lineChars ? `${line.slice(0, lineChars)}…` : line);
    if (this.#lines.length > keptLines) this.#lines.shift();
  }

  /** The kept lines, with a last line that had no newline yet. */
  lines(): string[] {
    const partial = this.#partial.trim() ? [this.#partial.slice(0, lineChars)] : [];
    return [...this.#lines, ...partial].slice(-keptLines);
  }
}
