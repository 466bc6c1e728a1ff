/** Does an Accept header admit this media type (wildcards included; `q=0` means "not this")? */
export function accepts(accept: string | undefined, type: string): boolean {
  if (accept === undefined) return false;
  const major = `${type.slice(0, type.indexOf('/'))}/*`;
  for (const part of accept.split(',')) {
    const [rangeText, ...params] = part.split(';');
    const range = rangeText?.trim().toLowerCase();
    if (range !== type && range !== major && range !== '*/*') continue;
    const q = params.map((p) => p.trim().toLowerCase()).find((p) => p.startsWith('q='));
    if (q === undefined || Number(q.slice(2)) > 0) return true;
  }
  return false;
}

/** Clients send the same Accept header with every request: the verdict on the last one is reused. */
let lastAccept: string | undefined;
let lastAcceptable = false;

/** Does the Accept header admit both answers Streamable HTTP may give (JSON and an event stream)? */
export function acceptsJsonAndEvents(accept: string | undefined): boolean {
  if (accept !== lastAccept) {
    lastAccept = accept;
    lastAcceptable = accepts(accept, 'application/json') && accepts(accept, 'text/event-stream');
  }
  return lastAcceptable;
}

export function isJsonContentType(value: string | undefined): boolean {
  if (value === 'application/json') return true;
  if (value === undefined) return false;
  const type = value.split(';', 1)[0]?.trim().toLowerCase();
  return type === 'application/json';
}
