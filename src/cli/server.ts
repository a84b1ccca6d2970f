import yargs from 'yargs';
import { createLogger, LOG_LEVELS, type LogLevel } from '../core/logger.js';
import { isLwM2MError } from '../core/errors.js';
import { createServer } from '../server/create.js';
import { isTransportError } from '../transport/datagram.js';
import { CliError, ExitCode, runCli } from './exit.js';

interface ServerCliArgs {
  coapPort: number;
  bsCoapPort: number;
  httpPort: number;
  host: string;
  bootstrapConfig?: string;
  logLevel: LogLevel;
}

function parseServerArgs(argv: readonly string[]): ServerCliArgs {
  const port = (name: string) => (v: number): number => {
    if (!Number.isInteger(v) || v < 0 || v > 65535) throw new Error(`--${name} must be a port number 0..65535`);
    return v;
  };
  const a = yargs([...argv])
    .scriptName('lwm2m-server')
    .usage('$0 [options]\n\nThe reference LwM2M server, Bootstrap-Server and HTTP API. SIGINT/SIGTERM stop it cleanly.')
    .option('coap-port', { type: 'number', default: 5683, coerce: port('coap-port'), describe: 'LwM2M server CoAP port (UDP)' })
    .option('bs-coap-port', { type: 'number', default: 5783, coerce: port('bs-coap-port'), describe: 'Bootstrap-Server CoAP port (UDP)' })
    .option('http-port', { type: 'number', default: 8080, coerce: port('http-port'), describe: 'HTTP API port' })
    .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to listen on' })
    .option('bootstrap-config', { type: 'string', describe: 'directory of bootstrap configs (JSON/YAML)' })
    .option('log-level', { type: 'string', default: 'info', choices: LOG_LEVELS as string[], describe: 'pino JSON logs on stderr' })
    .strict()
    .help()
    .version(false)
    .exitProcess(false)
    .fail((msg, err) => {
      throw new CliError(msg ?? err?.message ?? 'invalid arguments', ExitCode.INVALID_INPUT);
    })
    .parseSync();
  return {
    coapPort: a['coap-port'], bsCoapPort: a['bs-coap-port'], httpPort: a['http-port'], host: a.host,
    ...(a['bootstrap-config'] ? { bootstrapConfig: a['bootstrap-config'] } : {}),
    logLevel: a['log-level'] as LogLevel,
  };
}

/** Runs the server until SIGINT/SIGTERM; resolves with the exit code. */
export async function runServer(argv: readonly string[]): Promise<number> {
  const args = parseServerArgs(argv);
  const logger = createLogger({ level: args.logLevel, name: 'lwm2m-server' });
  let server;
  try {
    server = await createServer({
      host: args.host, coapPort: args.coapPort, bsCoapPort: args.bsCoapPort, httpPort: args.httpPort, logger,
      ...(args.bootstrapConfig ? { bootstrapConfigDir: args.bootstrapConfig } : {}),
    });
  } catch (e) {
    if (isTransportError(e)) throw new CliError(e.message);
    if (isLwM2MError(e)) throw new CliError(e.message);
    if (e instanceof Error && /EADDRINUSE/.test(e.message)) throw new CliError(`HTTP port ${args.httpPort} is already in use`);
    throw e;
  }
  process.stdout.write(`lwm2m-server: LwM2M ${server.coapUri}, bootstrap ${server.bootstrapUri ?? '-'}, HTTP ${server.httpUrl ?? '-'}\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await server.close();
  process.stdout.write('lwm2m-server: stopped\n');
  return ExitCode.OK;
}

export async function main(argv: readonly string[]): Promise<void> {
  await runCli('lwm2m-server', () => runServer(argv));
}
