import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import yargs from 'yargs';
import { LOG_LEVELS, type LogLevel } from '../core/logger.js';
import { runFleet, loadForRun, nullStream, type FleetOutputs } from '../../simulators/run.js';
import { isParentMessage, type ChildMessage } from '../../simulators/fork.js';
import { renderSummary } from '../../simulators/report/console.js';
import { mergeReports, serializeReport } from '../../simulators/report/json.js';
import { renderJUnit } from '../../simulators/report/junit.js';
import { parseDuration } from '../../simulators/scenario/load.js';
import { STARTER_SCENARIO_FILE, starterScenario } from '../../simulators/scenario/init.js';
import { CliError, ExitCode, runCli } from './exit.js';

function parseOuts(outs: readonly string[]): FleetOutputs {
  const o: FleetOutputs = {};
  for (const spec of outs) {
    const m = /^(json|junit)=(.+)$/.exec(spec);
    if (!m) throw new CliError(`--out ${spec}: expected json=FILE or junit=FILE`);
    o[m[1] as 'json' | 'junit'] = m[2] as string;
  }
  return o;
}

function parseShard(spec: string | undefined): { index: number; count: number } | undefined {
  if (spec === undefined) return undefined;
  const m = /^(\d+)\/(\d+)$/.exec(spec);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || index >= count) throw new CliError(`--shard ${spec}: expected i/n with 0 ≤ i < n (e.g. 0/4)`);
  return { index, count };
}

function parseTarget(t: string | undefined): string | undefined {
  if (t === undefined || t === 'embedded') return t;
  if (!/^coaps?:\/\/[^/]+/.test(t)) throw new CliError(`--target ${t}: expected embedded or coap://host:port`);
  return t;
}

/** Runs the `lwm2m-fleet` CLI; resolves with the exit code. */
export async function runFleetCli(argv: readonly string[]): Promise<number> {
  let exitCode: number = ExitCode.OK;
  const interrupt = new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
    // A forked child (--ipc-progress) stops when its parent says so or goes away.
    if (process.send !== undefined) {
      process.on('message', (m: unknown) => { if (isParentMessage(m)) resolve(); });
      process.once('disconnect', () => resolve());
    }
  });
  const parser = yargs([...argv])
    .scriptName('lwm2m-fleet')
    .usage('$0 <command> [options]')
    .command('run <scenario>', 'run a scenario of simulated devices', (y) => y
      .positional('scenario', { type: 'string', demandOption: true, describe: 'scenario YAML file' })
      .option('target', { type: 'string', describe: 'embedded | coap://host:port (overrides the scenario)' })
      .option('bootstrap-target', { type: 'string', describe: 'coap://host:port of the Bootstrap-Server (with --target: both replace the scenario\'s target)' })
      .option('devices', { type: 'number', describe: 'number of devices (arrival rates scale)' })
      .option('duration', { type: 'string', describe: 'length of the whole run, e.g. 5m' })
      .option('out', { type: 'string', array: true, default: [] as string[], describe: 'json=FILE and/or junit=FILE' })
      .option('metrics-port', { type: 'number', describe: 'serve Prometheus /metrics while running' })
      .option('shard', { type: 'string', describe: 'run shard i of n (0-based): i/n' })
      .option('workers', { type: 'number', describe: 'worker threads (default: cores; 0 = in this thread)' })
      .option('processes', { type: 'number', describe: 'fork N processes for the devices (default: as many as the open-file limit needs, usually 1)' })
      .option('ipc-progress', { type: 'boolean', hidden: true, describe: 'forked child: stream snapshots to the parent over IPC, no status or summary' })
      .option('seed', { type: 'string', describe: 'seed for every random choice' })
      .option('time-scale', { type: 'number', describe: 'compress (<1) or stretch (>1) the scenario timeline (phases, waits); protocol timers unchanged' })
      .option('log-level', { type: 'string', choices: LOG_LEVELS as string[], describe: 'pino JSON logs on stderr' }),
    async (a) => {
      if (a.devices !== undefined && (!Number.isInteger(a.devices) || a.devices < 1)) throw new CliError('--devices must be a positive integer');
      if (a.workers !== undefined && (!Number.isInteger(a.workers) || a.workers < 0)) throw new CliError('--workers must be a non-negative integer');
      const timeScale = a['time-scale'];
      if (timeScale !== undefined && !(timeScale > 0 && timeScale <= 100)) throw new CliError('--time-scale must be a number in (0, 100]');
      let durationMs: number | undefined;
      if (a.duration !== undefined) {
        try {
          durationMs = parseDuration(a.duration);
        } catch (e) {
          throw new CliError(`--duration ${a.duration}: ${(e as Error).message}`);
        }
      }
      if (a.processes !== undefined && (!Number.isInteger(a.processes) || a.processes < 1 || a.processes > 64)) throw new CliError('--processes must be an integer in 1..64');
      const bootstrapTarget = a['bootstrap-target'];
      if (bootstrapTarget !== undefined && !/^coaps?:\/\/[^/]+/.test(bootstrapTarget)) throw new CliError(`--bootstrap-target ${bootstrapTarget}: expected coap://host:port`);
      if (bootstrapTarget !== undefined && a.target === 'embedded') throw new CliError('--bootstrap-target goes with --target coap://host:port, not embedded');
      const target = parseTarget(a.target);
      const shard = parseShard(a.shard);
      const ipc = a['ipc-progress'] === true;
      if (ipc && process.send === undefined) throw new CliError('--ipc-progress: only for processes forked by lwm2m-fleet');
      const send = (m: ChildMessage): void => { if (process.connected) process.send?.(m); };
      const report = await runFleet({
        scenarioFile: a.scenario as string,
        overrides: {
          ...(a.devices !== undefined ? { devices: a.devices } : {}),
          ...(durationMs !== undefined ? { durationMs } : {}),
          ...(a.seed !== undefined ? { seed: a.seed } : {}),
          ...(timeScale !== undefined ? { timeScale } : {}),
          ...(target !== undefined && bootstrapTarget === undefined ? { target } : {}),
          ...(a['metrics-port'] !== undefined ? { metricsPort: a['metrics-port'] } : {}),
        },
        outputs: parseOuts(a.out),
        ...(shard ? { shard } : {}),
        ...(a.workers !== undefined ? { workers: a.workers } : {}),
        ...(a.processes !== undefined ? { processes: a.processes } : {}),
        ...(bootstrapTarget !== undefined ? { endpoints: { ...(target !== undefined ? { serverUri: target } : {}), bootstrapUri: bootstrapTarget } } : {}),
        ...(ipc ? { status: nullStream(), out: nullStream(), progressSink: (snapshot) => send({ type: 'snapshot', snapshot }) } : {}),
        ...(a['log-level'] ? { logLevel: a['log-level'] as LogLevel } : {}),
        interrupt,
      });
      exitCode = report.exitCode;
    })
    .command('validate <scenario>', 'check a scenario file (schema and semantics) without running it', (y) => y
      .positional('scenario', { type: 'string', demandOption: true }),
    async (a) => {
      const s = await loadForRun(a.scenario as string);
      for (const w of s.warnings) process.stderr.write(`warning: ${w.file}:${w.line ?? 1}:${w.col ?? 1}: ${w.message}\n`);
      process.stdout.write(`${s.file}: ok — ${s.devices.count} devices, ${s.flows.length} flow(s), ${s.phases.length} phase(s), ${Math.round(s.durationMs / 1000)} s\n`);
    })
    .command('init [file]', 'write a starter scenario', (y) => y
      .positional('file', { type: 'string', default: STARTER_SCENARIO_FILE })
      .option('force', { type: 'boolean', default: false, describe: 'overwrite an existing file' }),
    (a) => {
      const file = a.file as string;
      if (existsSync(file) && !a.force) throw new CliError(`${file} exists (use --force to overwrite)`);
      writeFileSync(file, starterScenario());
      process.stdout.write(`wrote ${file} — run it with: npx lwm2m-fleet run ${file}\n`);
    })
    .command('merge <reports..>', 'merge the JSON reports of a sharded run into one', (y) => y
      .positional('reports', { type: 'string', array: true, demandOption: true })
      .option('out', { type: 'string', array: true, default: [] as string[], describe: 'json=FILE and/or junit=FILE' }),
    (a) => {
      const texts = (a.reports as string[]).map((f) => {
        try {
          return JSON.parse(readFileSync(f, 'utf8')) as unknown;
        } catch (e) {
          throw new CliError(`${f}: ${(e as Error).message}`);
        }
      });
      let merged;
      try {
        merged = mergeReports(texts);
      } catch (e) {
        throw new CliError((e as Error).message);
      }
      const outs = parseOuts(a.out);
      process.stdout.write(renderSummary(merged));
      if (outs.json) writeFileSync(outs.json, serializeReport(merged));
      if (outs.junit) writeFileSync(outs.junit, renderJUnit(merged));
      exitCode = merged.exitCode;
    })
    .demandCommand(1, 'give a command: run, validate, init or merge')
    .strict()
    .help()
    .version(false)
    .exitProcess(false)
    .fail((msg, err) => {
      if (err instanceof CliError) throw err;
      throw new CliError(msg ?? err?.message ?? 'invalid arguments', err && !msg ? ExitCode.CRASH : ExitCode.INVALID_INPUT);
    });
  await parser.parseAsync();
  return exitCode;
}

export async function main(argv: readonly string[]): Promise<void> {
  await runCli('lwm2m-fleet', () => runFleetCli(argv));
}
