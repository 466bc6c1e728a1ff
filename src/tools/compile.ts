/**
 * Turns definitions into what the catalog serves, once, at registration: JSON Schemas and descriptors
 * built, argument validation and result shaping wrapped around each handler.
 */

import { UriTemplate } from '@modelcontextprotocol/sdk/shared/uriTemplate.js';
import type {
  CallToolResult,
  GetPromptResult,
  Prompt,
  Resource,
  ResourceTemplate,
  Tool,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { LookoutError } from '../errors/catalog.ts';
import {
  type Completer,
  type HandlerContext,
  type PromptDefinition,
  type ResourceContents,
  type ResourceDefinition,
  type ResourceTemplateDefinition,
  type ToolDefinition,
  ToolError,
} from './api.ts';

/** A tool as the MCP layer sees it: what tools/list shows and how a call runs. Built once, at registration. */
export interface ToolEntry {
  readonly descriptor: Tool;
  /** A task tool gathers its first input in rounds of the call, before the task starts. */
  readonly inputBeforeTask?: boolean;
  call(args: unknown, context: HandlerContext): Promise<CallToolResult>;
}

/** A resource template with its URI template parsed, for matching URIs against it. */
export interface TemplateEntry {
  readonly definition: ResourceTemplateDefinition;
  readonly template: UriTemplate;
  readonly descriptor: ResourceTemplate;
}

/** A prompt as the MCP layer sees it: Lookout's own (compiled from a definition) or an upstream's. */
export interface PromptEntry {
  readonly descriptor: Prompt;
  get(args: Record<string, string> | undefined, context: HandlerContext): Promise<GetPromptResult>;
  readonly complete?: Readonly<Record<string, Completer>> | undefined;
}

function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output'): Tool['inputSchema'] {
  const { $schema: _dialect, ...json } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Record<
    string,
    unknown
  >;
  return json as Tool['inputSchema'];
}

function describeIssues(error: z.ZodError): { text: string; issues: { path: string; message: string }[] } {
  const issues = error.issues.map((issue) => ({
    path: issue.path.length === 0 ? '(arguments)' : issue.path.map(String).join('.'),
    message: issue.message,
  }));
  return { text: issues.map((i) => `${i.path}: ${i.message}`).join('; '), issues };
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function toolResultOf(value: unknown, definition: ToolDefinition): CallToolResult {
  if (definition.output) {
    if (typeof value === 'object' && value !== null && Array.isArray((value as CallToolResult).content)) {
      return value as CallToolResult;
    }
    const checked = definition.output.safeParse(value);
    if (!checked.success) {
      return {
        isError: true,
        content: [
          {
            type: 'text',
            text: `Tool ${definition.name} returned a result that does not match its output schema`,
          },
        ],
      };
    }
    return {
      content: [{ type: 'text', text: JSON.stringify(checked.data) }],
      structuredContent: checked.data,
    };
  }
  if (typeof value === 'string') return { content: [{ type: 'text', text: value }] };
  return value as CallToolResult;
}

export function compileTool(definition: ToolDefinition): ToolEntry {
  const descriptor: Tool = {
    name: definition.name,
    ...(definition.title !== undefined && { title: definition.title }),
    description: definition.description,
    inputSchema: jsonSchemaOf(definition.input, 'input'),
    ...(definition.output && { outputSchema: jsonSchemaOf(definition.output, 'output') }),
    ...(definition.annotations && { annotations: definition.annotations }),
    ...(definition.task && { execution: { taskSupport: definition.task } }),
  };
  const input = definition.input;
  return {
    descriptor,
    ...(definition.inputBeforeTask === true && { inputBeforeTask: true }),
    async call(args, context) {
      const parsed = input.safeParse(args ?? {});
      if (!parsed.success) {
        const { text, issues } = describeIssues(parsed.error);
        throw new LookoutError('INVALID_ARGUMENTS', `tool ${definition.name}: ${text}`, { issues });
      }
      try {
        return toolResultOf(await definition.handler(parsed.data, context), definition);
      } catch (error) {
        if (error instanceof LookoutError) throw error;
        const text = error instanceof ToolError ? error.message : errorText(error);
        return { isError: true, content: [{ type: 'text', text }] };
      }
    },
  };
}

/** What a resource's read handler returned, as MCP resource contents. */
export function contentsOf(
  value: string | Uint8Array | ResourceContents,
  uri: string,
  mimeType: string | undefined,
): ResourceContents {
  const base = mimeType === undefined ? { uri } : { uri, mimeType };
  if (typeof value === 'string') return [{ ...base, text: value }];
  if (value instanceof Uint8Array) return [{ ...base, blob: Buffer.from(value).toString('base64') }];
  return value;
}

export function compilePrompt(definition: PromptDefinition): PromptEntry {
  return {
    descriptor: {
      name: definition.name,
      ...optional('title', definition.title),
      ...optional('description', definition.description),
      ...optional('arguments', promptArgumentsOf(definition.args)),
    },
    complete: definition.complete,
    async get(args, context) {
      let parsedArgs: Record<string, unknown> = {};
      if (definition.args) {
        const parsed = definition.args.safeParse(args ?? {});
        if (!parsed.success) {
          const { text, issues } = describeIssues(parsed.error);
          throw new LookoutError('INVALID_ARGUMENTS', `prompt ${definition.name}: ${text}`, { issues });
        }
        parsedArgs = parsed.data;
      }
      const result = await definition.get(parsedArgs, context);
      if (typeof result === 'string')
        return { messages: [{ role: 'user', content: { type: 'text', text: result } }] };
      return result;
    },
  };
}

export function templateEntryOf(definition: ResourceTemplateDefinition): TemplateEntry {
  return {
    definition,
    template: new UriTemplate(definition.uriTemplate),
    descriptor: {
      uriTemplate: definition.uriTemplate,
      name: definition.name,
      ...optional('title', definition.title),
      ...optional('description', definition.description),
      ...optional('mimeType', definition.mimeType),
    },
  };
}

function promptArgumentsOf(args: PromptDefinition['args']): Prompt['arguments'] {
  if (!args) return undefined;
  return Object.entries(args.shape).map(([name, schema]) => {
    const field = schema as z.ZodType;
    return {
      name,
      ...(field.description !== undefined && { description: field.description }),
      required: !field.safeParse(undefined).success,
    };
  });
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

/** A resource as resources/list shows it. */
export function resourceDescriptorOf(definition: ResourceDefinition): Resource {
  return {
    uri: definition.uri,
    name: definition.name,
    ...optional('title', definition.title),
    ...optional('description', definition.description),
    ...optional('mimeType', definition.mimeType),
  };
}
