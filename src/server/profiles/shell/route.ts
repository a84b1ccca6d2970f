/**
 * `POST /api/v1/clients/{ep}/shell`: Cumulocity device-shell commands over HTTP. Body `text/plain`
 * (one command per line) or JSON `{command: "read /3/0/0"}` / `{commands: [...]}`. A syntax error in
 * any line answers 400 `LWM2M_SHELL_SYNTAX` with every error's line and column, and nothing runs.
 */
import type { FastifyInstance } from 'fastify';
import { requireRegistration, sendApi, type ApiContext } from '../../http/context.js';
import { endpointParam, errorResponses } from '../../http/schemas.js';
import { MAX_SHELL_COMMANDS, MAX_SHELL_LINE, parseShellScript } from './parse.js';
import { runShell, type ShellContext } from './run.js';

interface ShellJsonBody {
  command?: string;
  commands?: string[];
}

const MAX_BODY = MAX_SHELL_COMMANDS * MAX_SHELL_LINE;

export function registerShellRoutes(app: FastifyInstance, ctx: ApiContext, extra: Pick<ShellContext, 'fota' | 'fotaSettings'> = {}): void {
  const shellCtx: ShellContext = { ...ctx, ...extra };
  app.post<{ Params: { ep: string }; Body: string | ShellJsonBody }>('/api/v1/clients/:ep/shell', {
    bodyLimit: MAX_BODY,
    schema: {
      tags: ['device management'],
      summary: 'Run Cumulocity device-shell commands (read, observe, cancelobservation, execute, write, create, delete, discover, writeattr, fwupdate)',
      description:
        'Body: text/plain, one command per line (`read /3/0/0`, `writeattr /3/0/9 pmin=1 pmax=60`, `fwupdate name;version;url`), ' +
        'or JSON `{"command": "..."}` / `{"commands": [...]}`. One command answers like its DM route (202 + requestId while a ' +
        'queue-mode device sleeps; fwupdate: 202 with the firmware job). Several: 200 `{results: [{line, command, statusCode, body}]}`.',
      operationId: 'shell',
      params: { type: 'object', required: ['ep'], properties: { ep: endpointParam } },
      body: {
        oneOf: [
          { type: 'string', maxLength: MAX_BODY },
          {
            type: 'object', additionalProperties: false,
            properties: {
              command: { type: 'string', maxLength: MAX_SHELL_LINE },
              commands: { type: 'array', maxItems: MAX_SHELL_COMMANDS, items: { type: 'string', maxLength: MAX_SHELL_LINE } },
            },
          },
        ],
      },
      response: {
        200: { description: 'the answer of the command (as its DM route), or `{results}` for several', type: 'object', additionalProperties: true },
        201: { description: 'create: the new instance', type: 'object', additionalProperties: true },
        202: { description: 'queued for a sleeping device (`requestId`), or the firmware job', type: 'object', additionalProperties: true },
        ...errorResponses,
        400: {
          description: 'a syntax error (every bad line with its line and column; nothing ran), or a bad value',
          type: 'object',
          properties: {
            code: { type: 'string' }, message: { type: 'string' },
            errors: { type: 'array', items: { type: 'object', properties: { line: { type: 'integer' }, column: { type: 'integer' }, message: { type: 'string' } } } },
          },
        },
      },
    },
  }, async (req, reply) => {
    const reg = requireRegistration(ctx, req.params.ep);
    const body = req.body;
    const text = typeof body === 'string' ? body : [...(body.command !== undefined ? [body.command] : []), ...(body.commands ?? [])].join('\n');
    const { commands, errors } = parseShellScript(text);
    if (errors.length > 0) {
      return sendApi(reply, {
        statusCode: 400,
        body: {
          code: 'LWM2M_SHELL_SYNTAX',
          message: errors.map((e) => e.message).join('; '),
          errors: errors.map((e) => ({ line: e.line, column: e.column, message: e.detail })),
        },
      });
    }
    const lines = text.split(/\r\n|\n|\r/);
    return sendApi(reply, await runShell(shellCtx, reg, commands, commands.map((c) => (lines[c.line - 1] ?? '').trim())));
  });
}
