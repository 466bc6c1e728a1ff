/** The few MCP exchanges the bench makes itself, over plain fetch. */

export const protocolVersion = '2025-11-25';
export const modernProtocolVersion = '2026-07-28';
export const echoText = 'hello, lookout';
const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' };

async function post(url: string, body: string, session?: string): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      ...headers,
      ...(session && { 'mcp-session-id': session, 'mcp-protocol-version': protocolVersion }),
    },
    body,
  });
}

/** `initialize` + `notifications/initialized`; resolves with the session id. */
export async function openSession(url: string): Promise<string> {
  const res = await post(
    url,
    JSON.stringify({
      jsonrpc: '2.0',
      id: 0,
      method: 'initialize',
      params: { protocolVersion, capabilities: {}, clientInfo: { name: 'lookout-bench', version: '1' } },
    }),
  );
  await res.arrayBuffer();
  const session = res.headers.get('mcp-session-id');
  if (!session) throw new Error(`initialize at ${url} answered ${res.status} without a session id`);
  const initialized = await post(url, '{"jsonrpc":"2.0","method":"notifications/initialized"}', session);
  await initialized.arrayBuffer();
  if (initialized.status !== 202) throw new Error(`notifications/initialized got ${initialized.status}`);
  return session;
}

/** One tools/call that must come back with the echoed text, before any load is put on a target. */
export async function checkEcho(
  url: string,
  session: string,
  tool = 'echo',
  era: 'legacy' | 'modern' = 'legacy',
): Promise<void> {
  const params = { name: tool, arguments: { text: echoText } };
  const body = (extra: object) =>
    JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { ...params, ...extra } });
  const res =
    era === 'modern'
      ? await fetch(url, {
          method: 'POST',
          headers: {
            ...headers,
            'mcp-protocol-version': modernProtocolVersion,
            'mcp-method': 'tools/call',
            'mcp-name': tool,
          },
          body: body({
            _meta: {
              'io.modelcontextprotocol/protocolVersion': modernProtocolVersion,
              'io.modelcontextprotocol/clientCapabilities': {},
            },
          }),
        })
      : await post(url, body({}), session);
  const text = await res.text();
  if (res.status !== 200 || !text.includes(`"text":"${echoText}"`))
    throw new Error(`bad echo from ${url} (${tool}): ${res.status} ${text.slice(0, 300)}`);
}

/** Opens `count` sessions, `concurrency` at a time, and leaves them open (idle). */
export async function openSessions(url: string, count: number, concurrency = 16): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      await openSession(url);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** The number of sessions Lookout holds, from its `lookout.health` tool. */
export async function lookoutSessionCount(url: string, session: string): Promise<number> {
  const res = await post(
    url,
    JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'lookout.health' } }),
    session,
  );
  const reply = (await res.json()) as { result?: { structuredContent?: { sessions?: number } } };
  const sessions = reply.result?.structuredContent?.sessions;
  if (sessions === undefined) throw new Error(`lookout.health gave no session count (${res.status})`);
  return sessions;
}
