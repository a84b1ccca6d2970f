import { access, constants as fsConstants } from 'node:fs/promises';
import yargs from 'yargs';
import { createLogger, LOG_LEVELS, type LogLevel } from '../core/logger.js';
import { isLwM2MError } from '../core/errors.js';
import { createServer } from '../server/create.js';
import { loadPlatformImports } from '../server/profiles/platform-import.js';
import { PLATFORM_PROFILE_NAMES, PORT_LAYOUTS, isPlatformProfileName } from '../server/profiles/port-layouts.js';
import { isPskStoreError } from '../server/security/psk-store.js';
import { isTransportError } from '../transport/datagram.js';
import { CliError, ExitCode, runCli } from './exit.js';

export interface ServerCliArgs {
  coapPort: number;
  bsCoapPort: number;
  httpPort: number;
  host: string;
  bootstrapConfig?: string;
  coapsPort?: number;
  bsCoapsPort?: number;
  pskFile?: string;
  bsPskFile?: string;
  pskIdentityHint?: string;
  keyShareToken?: string;
  firmwareDir?: string;
  imports: string[];
  maxQueued?: number;
  logLevel: LogLevel;
}

function maxQueued(v: number): number {
  if (!Number.isInteger(v) || v < 1 || v > 100_000) throw new CliError('--max-queued must be an integer 1..100000', ExitCode.INVALID_INPUT);
  return v;
}

/** Parses `lwm2m-server` arguments (exported for tests). */
export function parseServerArgs(argv: readonly string[]): ServerCliArgs {
  const port = (name: string) => (v: number): number => {
    if (!Number.isInteger(v) || v < 0 || v > 65535) throw new Error(`--${name} must be a port number 0..65535`);
    return v;
  };
  const a = yargs([...argv])
    .scriptName('lwm2m-server')
    .usage('$0 [options]\n\nThe reference LwM2M server, Bootstrap-Server and HTTP API. SIGINT/SIGTERM stop it cleanly.')
    .option('profile', { type: 'string', choices: PLATFORM_PROFILE_NAMES as string[], describe: 'platform port layout: thingsboard (server 5685/5686, bootstrap 5687/5688), cumulocity (bootstrap 5683/5684, server 5783/5784); DTLS listeners included; --*-port flags override' })
    .option('coap-port', { type: 'number', coerce: port('coap-port'), describe: 'LwM2M server CoAP port (UDP) [default: 5683]' })
    .option('bs-coap-port', { type: 'number', coerce: port('bs-coap-port'), describe: 'Bootstrap-Server CoAP port (UDP) [default: 5783]' })
    .option('http-port', { type: 'number', default: 8080, coerce: port('http-port'), describe: 'HTTP API port' })
    .option('host', { type: 'string', default: '127.0.0.1', describe: 'address to listen on' })
    .option('bootstrap-config', { type: 'string', describe: 'directory of bootstrap configs (JSON/YAML)' })
    .option('coaps-port', { type: 'number', coerce: port('coaps-port'), describe: 'LwM2M server DTLS port (coaps, PSK); none by default' })
    .option('bs-coaps-port', { type: 'number', coerce: port('bs-coaps-port'), describe: 'Bootstrap-Server DTLS port (coaps, PSK); none by default' })
    .option('psk-file', { type: 'string', describe: 'CSV of endpoint,identity,hexkey lines: PSKs of the LwM2M server' })
    .option('firmware-dir', { type: 'string', describe: 'directory of firmware images (LWFW files) the FOTA API can deliver by file name' })
    .option('bs-psk-file', { type: 'string', describe: 'CSV of endpoint,identity,hexkey lines: PSKs of the Bootstrap-Server' })
    .option('psk-identity-hint', { type: 'string', describe: 'PSK identity hint the DTLS listeners send' })
    .option('key-share-token', { type: 'string', describe: 'serve POST /api/v1/key-share (deviceWISE-style custom DM server: another Bootstrap-Server hands over device PSKs) with this bearer token; also LWM2M_KEY_SHARE_TOKEN' })
    .option('import', { type: 'string', array: true, describe: 'platform device list: cumulocity:devices.csv or thingsboard:credentials.json[,profile.json] (repeatable)' })
    .option('max-queued', { type: 'number', describe: 'requests queued per sleeping device (post-registration commands); one more is refused with 503 LWM2M_QUEUE_FULL [default: 32]' })
    .option('log-level', { type: 'string', default: 'info', choices: LOG_LEVELS as string[], describe: 'pino JSON logs on stderr' })
    .strict()
    .help()
    .version(false)
    .exitProcess(false)
    .fail((msg, err) => {
      throw new CliError(msg ?? err?.message ?? 'invalid arguments', ExitCode.INVALID_INPUT);
    })
    .parseSync();
  const layout = a.profile !== undefined && isPlatformProfileName(a.profile) ? PORT_LAYOUTS[a.profile] : undefined;
  const coapsPort = a['coaps-port'] ?? layout?.server.coaps;
  const bsCoapsPort = a['bs-coaps-port'] ?? layout?.bootstrap.coaps;
  return {
    coapPort: a['coap-port'] ?? layout?.server.coap ?? 5683, bsCoapPort: a['bs-coap-port'] ?? layout?.bootstrap.coap ?? 5783, httpPort: a['http-port'], host: a.host,
    ...(a['bootstrap-config'] ? { bootstrapConfig: a['bootstrap-config'] } : {}),
    ...(coapsPort !== undefined ? { coapsPort } : {}),
    ...(bsCoapsPort !== undefined ? { bsCoapsPort } : {}),
    ...(a['psk-file'] !== undefined ? { pskFile: a['psk-file'] } : {}),
    ...(a['bs-psk-file'] !== undefined ? { bsPskFile: a['bs-psk-file'] } : {}),
    ...(a['psk-identity-hint'] !== undefined ? { pskIdentityHint: a['psk-identity-hint'] } : {}),
    ...((a['key-share-token'] ?? process.env['LWM2M_KEY_SHARE_TOKEN']) ? { keyShareToken: a['key-share-token'] ?? process.env['LWM2M_KEY_SHARE_TOKEN'] } : {}),
    ...(a['firmware-dir'] !== undefined ? { firmwareDir: a['firmware-dir'] } : {}),
    imports: (a.import ?? []).map(String),
    ...(a['max-queued'] !== undefined ? { maxQueued: maxQueued(a['max-queued']) } : {}),
    logLevel: a['log-level'] as LogLevel,
  };
}

/** Runs the server until SIGINT/SIGTERM; resolves with the exit code. */
export async function runServer(argv: readonly string[]): Promise<number> {
  const args = parseServerArgs(argv);
  const logger = createLogger({ level: args.logLevel, name: 'lwm2m-server' });
  // A PSK file that cannot be read at all is a start-up error; bad rows in a readable one are not.
  for (const [flag, file] of [['--psk-file', args.pskFile], ['--bs-psk-file', args.bsPskFile]] as const) {
    if (file === undefined) continue;
    try {
      await access(file, fsConstants.R_OK);
    } catch (e) {
      throw new CliError(`${flag} ${file}: cannot read: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  if (args.firmwareDir !== undefined) {
    try {
      await access(args.firmwareDir, fsConstants.R_OK | fsConstants.X_OK);
    } catch (e) {
      throw new CliError(`--firmware-dir ${args.firmwareDir}: cannot read: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
  // Platform device lists (--import): bad rows are reported and skipped; an unreadable file is fatal.
  const imported = await loadPlatformImports(args.imports).catch((e: unknown) => {
    throw isLwM2MError(e) ? new CliError(e.message) : e;
  });
  let server;
  try {
    server = await createServer({
      ...(args.imports.length > 0 ? { psks: imported.psks, bsPsks: imported.bsPsks, bootstrapConfigs: imported.bootstrapConfigs } : {}),
      ...(imported.profiles.size > 0 ? { thingsBoardProfile: [...imported.profiles.values()][0] } : {}),
      ...(Object.keys(imported.awakeTimesMs).length > 0 ? { awakeTimesMs: imported.awakeTimesMs } : {}),
      ...(imported.fotaSettings && Object.keys(imported.fotaSettings).length > 0 ? { fotaSettings: imported.fotaSettings } : {}),
      ...(args.maxQueued !== undefined ? { queue: { maxPending: args.maxQueued } } : {}),
      host: args.host, coapPort: args.coapPort, bsCoapPort: args.bsCoapPort, httpPort: args.httpPort, logger,
      ...(args.bootstrapConfig ? { bootstrapConfigDir: args.bootstrapConfig } : {}),
      ...(args.coapsPort !== undefined ? { coapsPort: args.coapsPort } : {}),
      ...(args.bsCoapsPort !== undefined ? { bsCoapsPort: args.bsCoapsPort } : {}),
      ...(args.pskFile !== undefined ? { pskFile: args.pskFile } : {}),
      ...(args.bsPskFile !== undefined ? { bsPskFile: args.bsPskFile } : {}),
      ...(args.pskIdentityHint !== undefined ? { dtls: { identityHint: args.pskIdentityHint } } : {}),
      ...(args.keyShareToken !== undefined ? { keyShareToken: args.keyShareToken } : {}),
      ...(args.firmwareDir !== undefined ? { firmwareDir: args.firmwareDir } : {}),
    });
  } catch (e) {
    if (isTransportError(e)) throw new CliError(e.message);
    if (isLwM2MError(e)) throw new CliError(e.message);
    if (isPskStoreError(e)) throw new CliError(e.message);
    if (e instanceof Error && /EADDRINUSE/.test(e.message)) throw new CliError(`HTTP port ${args.httpPort} is already in use`);
    throw e;
  }
  // Listen for the stop signals before announcing the start: whoever reads the line may signal at once.
  const stopRequested = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  // Bad PSK rows: reported one per line, the good rows are loaded, and the exit code says so at the end.
  for (const issue of server.securityIssues) process.stderr.write(`lwm2m-server: ${issue}\n`);
  for (const issue of imported.issues) process.stderr.write(`lwm2m-server: ${issue}\n`);
  const secure = [
    ...(server.coapsUri !== undefined ? [`LwM2M ${server.coapsUri} (${server.psks.size} PSKs)`] : []),
    ...(server.bootstrapCoapsUri !== undefined ? [`bootstrap ${server.bootstrapCoapsUri} (${server.bootstrapPsks.size} PSKs)`] : []),
  ];
  process.stdout.write(`lwm2m-server: LwM2M ${server.coapUri}, bootstrap ${server.bootstrapUri ?? '-'}, HTTP ${server.httpUrl ?? '-'}${secure.length > 0 ? `, DTLS ${secure.join(', ')}` : ''}\n`);
  await stopRequested;
  await server.close();
  process.stdout.write('lwm2m-server: stopped\n');
  return server.securityIssues.length > 0 || imported.failed ? ExitCode.INVALID_INPUT : ExitCode.OK;
}

export async function main(argv: readonly string[]): Promise<void> {
  await runCli('lwm2m-server', () => runServer(argv));
}
