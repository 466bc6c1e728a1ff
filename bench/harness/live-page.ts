/** An open live view, as far as the server can tell: a client reading the page's event stream. */
export interface LivePage {
  /** Resolves once the first snapshot arrived: the stream's timer runs from then on. */
  readonly live: Promise<void>;
  /** Closes the stream; resolves with the number of snapshots received. */
  close(): Promise<number>;
}

/** Opens `/live/events` of the Lookout at `origin` and reads it until closed. */
export function openLivePage(origin: string): LivePage {
  const abort = new AbortController();
  let snapshots = 0;
  let markLive: () => void = () => {};
  let failLive: (error: Error) => void = () => {};
  const live = new Promise<void>((resolve, reject) => {
    markLive = resolve;
    failLive = reject;
  });
  const reading = (async () => {
    const res = await fetch(new URL('/live/events', origin), { signal: abort.signal });
    if (res.status !== 200 || !res.body) throw new Error(`/live/events answered ${res.status}`);
    const decoder = new TextDecoder();
    let partial = '';
    for await (const chunk of res.body) {
      const events = (partial + decoder.decode(chunk, { stream: true })).split('\n\n');
      partial = events.pop() ?? '';
      for (const event of events) if (event.startsWith('event: snapshot\n')) snapshots++;
      if (snapshots > 0) markLive();
    }
  })().catch((error: Error) => {
    if (error.name !== 'AbortError') failLive(error);
  });
  return {
    live,
    async close() {
      abort.abort();
      await reading;
      return snapshots;
    },
  };
}
