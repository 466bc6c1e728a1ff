/**
 * The tools, resources and prompts the official MCP conformance suite's server scenarios call, written
 * with Lookout's own tool API. Loaded as a tool module (`tools: [this file]`).
 */
import {
  CreateMessageResultSchema,
  ElicitResultSchema,
  ListRootsResultSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import {
  definePrompt,
  defineResource,
  defineResourceTemplate,
  defineTool,
  type HandlerContext,
  LookoutError,
  ToolError,
} from '../../src/index.ts';

/** A 1×1 PNG and an empty WAV file, base64. */
const png =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
const wav = 'UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=';
const noArgs = z.object({});
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function elicit(
  ctx: HandlerContext,
  message: string,
  properties: Record<string, unknown>,
  required: string[] = [],
) {
  const result = await ctx.request(
    {
      method: 'elicitation/create',
      params: { message, requestedSchema: { type: 'object', properties, required } },
    },
    ElicitResultSchema,
  );
  return `Elicitation completed: action=${result.action}, content=${JSON.stringify(result.content ?? {})}`;
}

/** Asks for one string field under `key` (the question names the 2026-07-28 scenarios look for). */
async function askString(ctx: HandlerContext, key: string, message: string, field: string) {
  const result = await ctx.request(
    {
      method: 'elicitation/create',
      params: {
        message,
        requestedSchema: { type: 'object', properties: { [field]: { type: 'string' } }, required: [field] },
      },
    },
    ElicitResultSchema,
    { key },
  );
  return String(result.content?.[field] ?? '');
}

function sample(ctx: HandlerContext, key: string, text: string, maxTokens: number) {
  return ctx.request(
    {
      method: 'sampling/createMessage',
      params: { messages: [{ role: 'user', content: { type: 'text', text } }], maxTokens },
    },
    CreateMessageResultSchema,
    { key },
  );
}

function textOf(result: { content: unknown }): string {
  const content = result.content as { type?: string; text?: string };
  return content.type === 'text' ? String(content.text) : JSON.stringify(content);
}

/** The tools the 2026-07-28 scenarios call: input-required rounds, capabilities, logging. */
const modernTools = [
  defineTool({
    name: 'test_input_required_result_elicitation',
    description: 'Asks the user for their name.',
    input: noArgs,
    handler: async (_args, ctx) =>
      `Hello, ${await askString(ctx, 'user_name', 'What is your name?', 'name')}!`,
  }),
  defineTool({
    name: 'test_input_required_result_sampling',
    description: 'Asks the client to sample an answer.',
    input: noArgs,
    handler: async (_args, ctx) =>
      `LLM said: ${textOf(await sample(ctx, 'capital_question', 'What is the capital of France?', 100))}`,
  }),
  defineTool({
    name: 'test_input_required_result_list_roots',
    description: "Lists the client's roots.",
    input: noArgs,
    handler: async (_args, ctx) => {
      const { roots } = await ctx.request({ method: 'roots/list', params: {} }, ListRootsResultSchema, {
        key: 'client_roots',
      });
      return `Roots: ${roots.map((r) => r.uri).join(', ')}`;
    },
  }),
  defineTool({
    name: 'test_input_required_result_request_state',
    description: 'Asks for a confirmation; the answer comes back with the verified request state.',
    input: noArgs,
    handler: async (_args, ctx) => {
      const result = await ctx.request(
        {
          method: 'elicitation/create',
          params: {
            message: 'Please confirm',
            requestedSchema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] },
          },
        },
        ElicitResultSchema,
        { key: 'confirm' },
      );
      return `state-ok: confirmed=${String(result.content?.ok)}`;
    },
  }),
  defineTool({
    name: 'test_input_required_result_multiple_inputs',
    description: 'Asks three questions at once: a name, a sampled greeting and the roots.',
    input: noArgs,
    handler: async (_args, ctx) => {
      const [name, greeting, roots] = await Promise.all([
        askString(ctx, 'user_name', 'What is your name?', 'name'),
        sample(ctx, 'greeting', 'Generate a greeting', 50),
        ctx.request({ method: 'roots/list', params: {} }, ListRootsResultSchema, { key: 'client_roots' }),
      ]);
      return `${textOf(greeting)} ${name} (${roots.roots.length} roots)`;
    },
  }),
  defineTool({
    name: 'test_input_required_result_multi_round',
    description: 'Asks two questions, one after the other.',
    input: noArgs,
    handler: async (_args, ctx) => {
      const name = await askString(ctx, 'step1', 'Step 1: What is your name?', 'name');
      const color = await askString(ctx, 'step2', 'Step 2: What is your favorite color?', 'color');
      return `${name} likes ${color}`;
    },
  }),
  defineTool({
    name: 'test_input_required_result_tampered_state',
    description: 'Asks for a confirmation under an integrity-protected request state.',
    input: noArgs,
    handler: async (_args, ctx) => `confirmed: ${await askString(ctx, 'confirm', 'Please confirm', 'ok')}`,
  }),
  defineTool({
    name: 'test_input_required_result_capabilities',
    description: 'Asks only what the client declared it can answer.',
    input: noArgs,
    handler: async (_args, ctx) => {
      const declared = ctx.clientCapabilities ?? {};
      const answers: string[] = [];
      if ('sampling' in declared) answers.push(textOf(await sample(ctx, 'sampled', 'Say something', 20)));
      if ('elicitation' in declared) answers.push(await askString(ctx, 'asked', 'Say something', 'text'));
      return `answers: ${answers.join(', ')}`;
    },
  }),
  defineTool({
    name: 'test_missing_capability',
    description: 'Needs sampling, whether or not the client declared it.',
    input: noArgs,
    handler: async (_args, ctx) => `LLM said: ${textOf(await sample(ctx, 'needed', 'Hello', 10))}`,
  }),
  defineTool({
    name: 'test_streaming_elicitation',
    description: 'Reports progress, then asks the user a question.',
    input: noArgs,
    handler: async (_args, ctx) => {
      await ctx.progress(0, 1, 'asking');
      return `answer: ${await askString(ctx, 'question', 'Anything to add?', 'text')}`;
    },
  }),
  defineTool({
    name: 'test_logging_tool',
    description: 'Logs at info level; a 2026-07-28 request without a logLevel gets no log messages.',
    input: noArgs,
    handler: async (_args, ctx) => {
      await ctx.log('info', 'logging tool ran', 'fixture');
      return 'logged';
    },
  }),
];

/** Waits `ms`, or until the signal aborts (a cancelled task stops its work). */
function sleep(ms: number, signal: AbortSignal) {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}

/** The tools the tasks extension scenarios call (io.modelcontextprotocol/tasks). */
const taskTools = [
  defineTool({
    name: 'greet',
    description: 'Greets someone, at once (never a task).',
    input: z.object({ name: z.string() }),
    handler: ({ name }) => `Hello, ${name}!`,
  }),
  defineTool({
    name: 'slow_compute',
    description: 'Sleeps for the given seconds, then reports; a task for clients that support them.',
    input: z.object({ seconds: z.number().min(0), label: z.string().optional() }),
    task: 'optional',
    handler: async ({ seconds, label }, ctx) => {
      await sleep(seconds * 1000, ctx.signal);
      return `computed ${label ?? ''} after ${seconds} s`;
    },
  }),
  defineTool({
    name: 'failing_job',
    description: 'Runs for a second, then fails with a tool error; only as a task.',
    input: noArgs,
    task: 'required',
    handler: async (_args, ctx) => {
      await sleep(1000, ctx.signal);
      throw new ToolError('failing_job failed, as it always does');
    },
  }),
  defineTool({
    name: 'protocol_error_job',
    description: 'Fails with a protocol-level error rather than a tool error.',
    input: noArgs,
    task: 'optional',
    handler: () => {
      throw new LookoutError('INTERNAL', 'protocol_error_job always fails');
    },
  }),
  defineTool({
    name: 'test_tool_with_task',
    description: 'Asks for a name in rounds of the call, then greets as a task.',
    input: noArgs,
    task: 'required',
    inputBeforeTask: true,
    handler: async (_args, ctx) => {
      const name = await askString(ctx, 'user_name', 'What is your name?', 'name');
      await sleep(100, ctx.signal);
      return `Hello, ${name}! (from a task)`;
    },
  }),
  defineTool({
    name: 'confirm_delete',
    description: 'Asks the user to confirm deleting a file.',
    input: z.object({ filename: z.string() }),
    task: 'optional',
    handler: async ({ filename }, ctx) => {
      const answer = await ctx.request(
        {
          method: 'elicitation/create',
          params: {
            message: `Delete ${filename}?`,
            requestedSchema: {
              type: 'object',
              properties: { confirm: { type: 'boolean' } },
              required: ['confirm'],
            },
          },
        },
        ElicitResultSchema,
      );
      return answer.content?.confirm === true ? `deleted ${filename}` : `kept ${filename}`;
    },
  }),
  defineTool({
    name: 'multi_input',
    description: 'Asks two questions at once.',
    input: noArgs,
    task: 'optional',
    handler: async (_args, ctx) => {
      const [first, second] = await Promise.all([
        askString(ctx, 'first', 'First name?', 'name'),
        askString(ctx, 'second', 'Second name?', 'name'),
      ]);
      return `${first} and ${second}`;
    },
  }),
];

export const tools = [
  ...modernTools,
  ...taskTools,
  defineTool({
    name: 'test_simple_text',
    description: 'Returns a simple text block.',
    input: noArgs,
    handler: () => 'This is a simple text response for testing.',
  }),
  defineTool({
    name: 'test_image_content',
    description: 'Returns an image block.',
    input: noArgs,
    handler: () => ({ content: [{ type: 'image', data: png, mimeType: 'image/png' }] }),
  }),
  defineTool({
    name: 'test_audio_content',
    description: 'Returns an audio block.',
    input: noArgs,
    handler: () => ({ content: [{ type: 'audio', data: wav, mimeType: 'audio/wav' }] }),
  }),
  defineTool({
    name: 'test_embedded_resource',
    description: 'Returns an embedded text resource.',
    input: noArgs,
    handler: () => ({
      content: [
        {
          type: 'resource',
          resource: {
            uri: 'test://embedded-resource',
            mimeType: 'text/plain',
            text: 'This is an embedded resource content.',
          },
        },
      ],
    }),
  }),
  defineTool({
    name: 'test_multiple_content_types',
    description: 'Returns text, an image and an embedded resource.',
    input: noArgs,
    handler: () => ({
      content: [
        { type: 'text', text: 'Multiple content types test:' },
        { type: 'image', data: png, mimeType: 'image/png' },
        {
          type: 'resource',
          resource: {
            uri: 'test://mixed-content-resource',
            mimeType: 'application/json',
            text: JSON.stringify({ test: 'data', value: 123 }),
          },
        },
      ],
    }),
  }),
  defineTool({
    name: 'test_tool_with_logging',
    description: 'Sends three info log messages while it runs.',
    input: noArgs,
    handler: async (_args, ctx) => {
      await ctx.log('info', 'Tool execution started', 'fixture');
      await pause(50);
      await ctx.log('info', 'Tool processing data', 'fixture');
      await pause(50);
      await ctx.log('info', 'Tool execution completed', 'fixture');
      return 'Tool with logging executed successfully';
    },
  }),
  defineTool({
    name: 'test_tool_with_progress',
    description: 'Reports progress 0, 50 and 100 of 100.',
    input: noArgs,
    handler: async (_args, ctx) => {
      for (const step of [0, 50, 100]) {
        await ctx.progress(step, 100, `Completed step ${step} of 100`);
        if (step < 100) await pause(50);
      }
      return 'Progress tool completed';
    },
  }),
  defineTool({
    name: 'test_error_handling',
    description: 'Always fails with a tool error.',
    input: noArgs,
    handler: () => {
      throw new ToolError('This tool intentionally returns an error for testing');
    },
  }),
  defineTool({
    name: 'test_sampling',
    description: 'Asks the client to sample an LLM completion.',
    input: z.object({ prompt: z.string().describe('The prompt to send to the LLM') }),
    handler: async ({ prompt }, ctx) => {
      const result = await ctx.request(
        {
          method: 'sampling/createMessage',
          params: { messages: [{ role: 'user', content: { type: 'text', text: prompt } }], maxTokens: 100 },
        },
        CreateMessageResultSchema,
      );
      const content = result.content;
      return `LLM response: ${!Array.isArray(content) && content.type === 'text' ? content.text : JSON.stringify(content)}`;
    },
  }),
  defineTool({
    name: 'test_elicitation',
    description: 'Asks the user for a username and an email address.',
    input: z.object({ message: z.string().describe('The message to show the user') }),
    handler: ({ message }, ctx) =>
      elicit(
        ctx,
        message,
        {
          username: { type: 'string', description: "User's response" },
          email: { type: 'string', description: "User's email address" },
        },
        ['username', 'email'],
      ),
  }),
  defineTool({
    name: 'test_elicitation_sep1034_defaults',
    description: 'Elicits a form whose fields all have defaults (SEP-1034).',
    input: noArgs,
    handler: (_args, ctx) =>
      elicit(ctx, 'Please review and update the form fields with defaults', {
        name: { type: 'string', description: 'User name', default: 'John Doe' },
        age: { type: 'integer', description: 'User age', default: 30 },
        score: { type: 'number', description: 'User score', default: 95.5 },
        status: {
          type: 'string',
          description: 'User status',
          enum: ['active', 'inactive', 'pending'],
          default: 'active',
        },
        verified: { type: 'boolean', description: 'Verification status', default: true },
      }),
  }),
  defineTool({
    name: 'test_elicitation_sep1330_enums',
    description: 'Elicits the five enum field styles (SEP-1330).',
    input: noArgs,
    handler: (_args, ctx) => {
      const titled = (prefix: string, noun: string) =>
        ['First', 'Second', 'Third'].map((t, i) => ({ const: `${prefix}${i + 1}`, title: `${t} ${noun}` }));
      return elicit(ctx, 'Please select options from the enum fields', {
        untitledSingle: {
          type: 'string',
          description: 'Select one',
          enum: ['option1', 'option2', 'option3'],
        },
        titledSingle: {
          type: 'string',
          description: 'Select one (titled)',
          oneOf: titled('value', 'Option'),
        },
        legacyEnum: {
          type: 'string',
          description: 'Select one (legacy)',
          enum: ['opt1', 'opt2', 'opt3'],
          enumNames: ['Option One', 'Option Two', 'Option Three'],
        },
        untitledMulti: {
          type: 'array',
          description: 'Select many',
          minItems: 1,
          maxItems: 3,
          items: { type: 'string', enum: ['option1', 'option2', 'option3'] },
        },
        titledMulti: {
          type: 'array',
          description: 'Select many (titled)',
          minItems: 1,
          maxItems: 3,
          items: { anyOf: titled('value', 'Choice') },
        },
      });
    },
  }),
];

export const resources = [
  defineResource({
    uri: 'test://static-text',
    name: 'static-text',
    description: 'A static text resource.',
    mimeType: 'text/plain',
    read: () => 'This is the content of the static text resource.',
  }),
  defineResource({
    uri: 'test://static-binary',
    name: 'static-binary',
    description: 'A static PNG.',
    mimeType: 'image/png',
    read: () => Buffer.from(png, 'base64'),
  }),
  defineResource({
    uri: 'test://watched-resource',
    name: 'watched-resource',
    description: 'A resource clients can subscribe to.',
    mimeType: 'text/plain',
    read: () => 'Watched resource content',
  }),
  defineResourceTemplate({
    uriTemplate: 'test://template/{id}/data',
    name: 'template',
    description: 'Data for an id.',
    mimeType: 'application/json',
    read: (_uri, { id }) => JSON.stringify({ id, templateTest: true, data: `Data for ID: ${String(id)}` }),
  }),
];

export const prompts = [
  definePrompt({
    name: 'test_input_required_result_prompt',
    description: 'A prompt that asks the user for its context first.',
    get: async (_args, ctx) => {
      const context = await askString(ctx, 'user_context', 'What context should the prompt use?', 'context');
      return `Use this context: ${context}`;
    },
  }),
  definePrompt({
    name: 'test_simple_prompt',
    description: 'A prompt without arguments.',
    get: () => 'This is a simple prompt for testing.',
  }),
  definePrompt({
    name: 'test_prompt_with_arguments',
    description: 'A prompt with two arguments.',
    args: z.object({
      arg1: z.string().describe('First argument'),
      arg2: z.string().describe('Second argument'),
    }),
    complete: { arg1: (value) => ['test', 'testing', 'tested'].filter((v) => v.startsWith(value)) },
    get: ({ arg1, arg2 }) => `Prompt with arguments: arg1='${arg1}', arg2='${arg2}'`,
  }),
  definePrompt({
    name: 'test_prompt_with_embedded_resource',
    description: 'A prompt that embeds the resource it is given.',
    args: z.object({ resourceUri: z.string().describe('URI of the resource to embed') }),
    get: ({ resourceUri }) => ({
      messages: [
        {
          role: 'user',
          content: {
            type: 'resource',
            resource: {
              uri: resourceUri,
              mimeType: 'text/plain',
              text: 'Embedded resource content for testing.',
            },
          },
        },
        { role: 'user', content: { type: 'text', text: 'Please process the embedded resource above.' } },
      ],
    }),
  }),
  definePrompt({
    name: 'test_prompt_with_image',
    description: 'A prompt with an image.',
    get: () => ({
      messages: [
        { role: 'user', content: { type: 'image', data: png, mimeType: 'image/png' } },
        { role: 'user', content: { type: 'text', text: 'Please analyze the image above.' } },
      ],
    }),
  }),
];
