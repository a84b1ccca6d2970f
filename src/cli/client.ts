import { readFileSync } from 'node:fs';
import yargs from 'yargs';
import { LwM2MClient } from '../client/client.js';
import { CoapConnectionFactory, parseCoapUri } from '../client/coap-connection.js';
import { createDeviceTree, type ServerAccountConfig } from '../client/device-factory.js';
import { createLogger, LOG_LEVELS, type LogLevel } from '../core/logger.js';
import { isLwM2MError } from '../core/errors.js';
import { parseDdf } from '../model/ddf-loader.js';
import type { ObjectModel } from '../model/types.js';
import { isDtlsClientError } from '../transport/dtls/client.js';
import { PSK_CIPHER_SUITES, type PskCipherSuite } from '../transport/dtls/psk-session.js';
import { createUdpSocket } from '../transport/udp.js';
import { CliError, ExitCode, runCli } from './exit.js';

export interface ClientCliArgs {
  server?: string;
  bootstrap?: string;
  endpoint: string;
  lifetime: number;
  binding: string;
  lwm2m: '1.0' | '1.1';
  object: string[];
  pskIdentity?: string;
  pskKey?: string;
  /** DTLS cipher suites to offer (default TLS_PSK_WITH_AES_128_CCM_8). */
  dtlsCipher: PskCipherSuite[];
  logLevel: LogLevel;
  host: string;
}

export function parseClientArgs(argv: readonly string[]): ClientCliArgs {
  const parsed = yargs([...argv])
    .scriptName('lwm2m-client')
    .usage('$0 --server coap://127.0.0.1:5683 --endpoint dev1 [options]\n\nRuns one LwM2M device until SIGINT/SIGTERM, then de-registers.')
    .option('server', { type: 'string', describe: 'LwM2M server URI (coap://host:port, or coaps://host:port with --psk-*)' })
    .option('bootstrap', { type: 'string', describe: 'Bootstrap-Server URI, coap:// or coaps:// (used when no --server is given, or on failure)' })
    .option('endpoint', { type: 'string', demandOption: true, describe: 'Endpoint Client Name (ep)' })
    .option('lifetime', { type: 'number', default: 300, describe: 'Registration lifetime, seconds' })
    .option('binding', { type: 'string', default: 'U', choices: ['U', 'UQ'], describe: 'Binding (UQ = queue mode)' })
    .option('lwm2m', { type: 'string', default: '1.1', choices: ['1.0', '1.1'], describe: 'LwM2M version to register with' })
    .option('object', { type: 'string', array: true, default: [] as string[], describe: 'Extra object model (OMA DDF XML file); repeatable' })
    .option('psk-identity', { type: 'string', describe: 'DTLS PSK identity (Security /0/x/3) of every coaps:// URI given' })
    .option('psk-key', { type: 'string', describe: 'DTLS PSK key in hex (Security /0/x/5) of every coaps:// URI given' })
    .option('dtls-cipher', {
      type: 'string', array: true, default: ['TLS_PSK_WITH_AES_128_CCM_8'], choices: Object.keys(PSK_CIPHER_SUITES),
      describe: 'DTLS cipher suite to offer; repeatable',
    })
    .option('host', { type: 'string', default: '127.0.0.1', describe: 'Local address to bind' })
    .option('log-level', { type: 'string', default: 'info', choices: LOG_LEVELS as string[], describe: 'pino log level (JSON logs on stderr)' })
    .check((a) => {
      if (!a.server && !a.bootstrap) throw new Error('give --server or --bootstrap');
      if (!Number.isInteger(a.lifetime) || a.lifetime < 1) throw new Error('--lifetime must be a positive integer');
      if ((a['psk-identity'] === undefined) !== (a['psk-key'] === undefined)) throw new Error('--psk-identity and --psk-key go together');
      if (a['psk-key'] !== undefined && !/^([0-9a-fA-F]{2})+$/.test(a['psk-key'])) throw new Error('--psk-key must be hex (an even number of 0-9a-f digits)');
      if (a['psk-identity'] === '') throw new Error('--psk-identity must not be empty');
      const secure: string[] = [];
      for (const [flag, uri] of [['--server', a.server], ['--bootstrap', a.bootstrap]] as const) {
        if (!uri) continue;
        if (parseCoapUri(uri).secure) secure.push(flag);
      }
      if (a['psk-key'] !== undefined && secure.length === 0) {
        throw new Error('--psk-identity/--psk-key need a coaps:// URI (--server or --bootstrap); coap:// is NoSec');
      }
      if (a['psk-key'] === undefined && secure.length > 0) {
        throw new Error(`${secure.join(' and ')} is coaps:// (DTLS): give --psk-identity and --psk-key`);
      }
      return true;
    })
    .strict()
    .help()
    .version(false)
    .exitProcess(false)
    .fail((msg, err) => {
      throw new CliError(msg ?? err?.message ?? 'invalid arguments', ExitCode.INVALID_INPUT);
    })
    .parseSync();
  return {
    ...(parsed.server ? { server: parsed.server } : {}),
    ...(parsed.bootstrap ? { bootstrap: parsed.bootstrap } : {}),
    endpoint: parsed.endpoint,
    lifetime: parsed.lifetime,
    binding: parsed.binding,
    lwm2m: parsed.lwm2m as '1.0' | '1.1',
    object: parsed.object,
    ...(parsed['psk-identity'] ? { pskIdentity: parsed['psk-identity'] } : {}),
    ...(parsed['psk-key'] ? { pskKey: parsed['psk-key'] } : {}),
    dtlsCipher: parsed['dtls-cipher'] as PskCipherSuite[],
    logLevel: parsed['log-level'] as LogLevel,
    host: parsed.host,
  };
}

function loadObjects(files: readonly string[]): ObjectModel[] {
  const out: ObjectModel[] = [];
  for (const f of files) {
    let text: string;
    try {
      text = readFileSync(f, 'utf8');
    } catch (e) {
      throw new CliError(`--object ${f}: ${(e as Error).message}`);
    }
    try {
      out.push(...parseDdf(text, f));
    } catch (e) {
      throw new CliError(isLwM2MError(e) ? e.message : String(e));
    }
  }
  return out;
}

/** Runs the device; resolves with the exit code once stopped by a signal. */
export async function runClient(argv: readonly string[], signals: NodeJS.Process = process): Promise<number> {
  const args = parseClientArgs(argv);
  const log = createLogger({ level: args.logLevel, name: 'lwm2m-client' });
  // The PSK fills the Security instance (mode 0 PSK, /0/x/3 identity, /0/x/5 key) of each coaps:// account.
  const pskFor = (uri: string): { pskIdentity?: string; pskKey?: string } =>
    parseCoapUri(uri).secure && args.pskIdentity !== undefined && args.pskKey !== undefined
      ? { pskIdentity: args.pskIdentity, pskKey: args.pskKey } : {};
  const servers: ServerAccountConfig[] = args.server
    ? [{ uri: args.server, lifetime: args.lifetime, binding: args.binding, ...pskFor(args.server) }] : [];
  const device = createDeviceTree({
    lwm2mVersion: args.lwm2m,
    servers,
    ...(args.bootstrap ? { bootstrap: { uri: args.bootstrap, ...pskFor(args.bootstrap) } } : {}),
    device: { manufacturer: 'lwm2m-fleet', modelNumber: 'lwm2m-client', serialNumber: args.endpoint, firmwareVersion: '1.0.0', supportedBinding: 'UQ' },
    objects: loadObjects(args.object).map((model) => ({ model, instances: [{ values: {} }] })),
  });
  const client = new LwM2MClient({
    endpoint: args.endpoint,
    lwm2mVersion: args.lwm2m,
    tree: device.tree,
    logger: log,
    connections: new CoapConnectionFactory({
      createSocket: () => createUdpSocket({ host: args.host }),
      dtls: { localHost: args.host, cipherSuites: args.dtlsCipher },
      logger: log,
    }),
  });
  client.on('registered', (ssid) => {
    const s = client.session(ssid);
    process.stdout.write(`registered ${args.endpoint} (ssid ${ssid}) as /${s?.registrationLocation?.join('/') ?? '?'} from ${args.host}:${s?.connection.localPort ?? '?'}\n`);
  });
  client.on('request', (r) => log.info({ op: r.operation, method: r.method, path: r.path, code: r.code, ssid: r.shortServerId }, 'request'));
  client.on('failed', (ssid, err) => log.error({ ssid, err: err instanceof Error ? err.message : String(err) }, 'registration failed'));
  const stopped = new Promise<void>((resolve) => {
    const stop = (): void => { resolve(); };
    signals.once('SIGINT', stop);
    signals.once('SIGTERM', stop);
  });
  try {
    await client.start();
  } catch (e) {
    device.dispose();
    // A failed DTLS handshake is one clear line (code, alert), not a stack trace.
    if (isDtlsClientError(e)) throw new CliError(`${e.message} [${e.code}]`, ExitCode.CRASH);
    throw e;
  }
  await stopped;
  await client.stop();
  device.dispose();
  process.stdout.write(`de-registered ${args.endpoint}\n`);
  return ExitCode.OK;
}

export async function main(argv: readonly string[]): Promise<void> {
  await runCli('lwm2m-client', () => runClient(argv));
}
