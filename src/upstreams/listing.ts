import type { Client } from '@modelcontextprotocol/client';
import type { Prompt, Resource, ResourceTemplate, Tool } from '@modelcontextprotocol/sdk/types.js';

/** Pages read of one list at most: an upstream whose cursor never ends is not followed forever. */
export const maxListPages = 100;

/** What an upstream serves. */
export interface UpstreamLists {
  readonly tools: Tool[];
  readonly resources: Resource[];
  readonly resourceTemplates: ResourceTemplate[];
  readonly prompts: Prompt[];
  /** The shortest `ttlMs` (above 0) the list answers gave: the lists are read again when it runs out. */
  readonly ttlMs?: number;
}

/** A list that stopped before its end: at the page cap, or at a cursor it had already given. */
export interface TruncatedList {
  readonly list: string;
  readonly pages: number;
  readonly reason: 'page cap' | 'repeated cursor';
}

async function allPages<T>(
  list: string,
  page: (cursor: string | undefined) => Promise<{ items: T[]; nextCursor?: string | undefined }>,
  onTruncated: (truncated: TruncatedList) => void,
): Promise<T[]> {
  const items: T[] = [];
  const seen = new Set<string>();
  let cursor: string | undefined;
  for (let pages = 1; ; pages++) {
    const answer = await page(cursor);
    items.push(...answer.items);
    cursor = answer.nextCursor;
    if (cursor === undefined) return items;
    if (seen.has(cursor) || pages >= maxListPages) {
      onTruncated({ list, pages, reason: seen.has(cursor) ? 'repeated cursor' : 'page cap' });
      return items;
    }
    seen.add(cursor);
  }
}

/** One page per request: the client's own list methods would walk (and cache) every page themselves. */
const params = (cursor: string | undefined) => (cursor === undefined ? {} : { cursor });

/** Reads every page of the resources the upstream lists. */
export function listResources(
  client: Client,
  timeoutMs: number,
  onTruncated: (truncated: TruncatedList) => void,
  noted: <T extends object>(answer: T) => T = (answer) => answer,
): Promise<Resource[]> {
  return allPages(
    'resources/list',
    async (cursor) => {
      const { resources: items, nextCursor } = noted(
        await client.request({ method: 'resources/list', params: params(cursor) }, { timeout: timeoutMs }),
      );
      return { items: items as Resource[], nextCursor };
    },
    onTruncated,
  );
}

/** Reads every page of the tools, resources, templates and prompts the upstream says it has. */
export async function listEverything(
  client: Client,
  timeoutMs: number,
  onTruncated: (truncated: TruncatedList) => void,
): Promise<UpstreamLists> {
  const options = { timeout: timeoutMs };
  let shortest: number | undefined;
  /** Notes an answer's `ttlMs`; 0 (the 2026-07-28 default) is no hint: the lists are kept until list_changed. */
  const noted = <T extends object>(answer: T): T => {
    const { ttlMs } = answer as { ttlMs?: unknown };
    if (Number.isSafeInteger(ttlMs) && (ttlMs as number) > 0) {
      shortest = Math.min(shortest ?? Number.POSITIVE_INFINITY, ttlMs as number);
    }
    return answer;
  };
  const capabilities = client.getServerCapabilities() ?? {};
  const tools = capabilities.tools
    ? await allPages(
        'tools/list',
        async (cursor) => {
          const { tools: items, nextCursor } = noted(
            await client.request({ method: 'tools/list', params: params(cursor) }, options),
          );
          return { items: items as Tool[], nextCursor };
        },
        onTruncated,
      )
    : [];
  const resources = capabilities.resources ? await listResources(client, timeoutMs, onTruncated, noted) : [];
  const resourceTemplates = capabilities.resources
    ? await allPages(
        'resources/templates/list',
        async (cursor) => {
          const { resourceTemplates: items, nextCursor } = noted(
            await client.request({ method: 'resources/templates/list', params: params(cursor) }, options),
          );
          return { items: items as ResourceTemplate[], nextCursor };
        },
        onTruncated,
      )
    : [];
  const prompts = capabilities.prompts
    ? await allPages(
        'prompts/list',
        async (cursor) => {
          const { prompts: items, nextCursor } = noted(
            await client.request({ method: 'prompts/list', params: params(cursor) }, options),
          );
          return { items: items as Prompt[], nextCursor };
        },
        onTruncated,
      )
    : [];
  return { tools, resources, resourceTemplates, prompts, ...(shortest !== undefined && { ttlMs: shortest }) };
}
