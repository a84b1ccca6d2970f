/**
 * One bootstrap session with one client: runs the planned requests one at a time (Leshan's
 * DefaultBootstrapHandler does the same: "only one request at a time for a given client"), each under
 * a step timeout on the injected Clock, records every step, and ends `ok` when Bootstrap-Finish is
 * answered 2.04 — `failed` on an error answer to Delete/Write/Finish, on a step without an answer, or
 * when cancelled. Bootstrap-Discover and Bootstrap-Read only inform: their failure is recorded and
 * the session goes on.
 */
import type { PeerAddress } from '../../coap/types.js';
import type { Clock } from '../../core/clock.js';
import { isLwM2MError } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import { parsePath } from '../../core/path.js';
import type { ModelLookup } from '../../model/types.js';
import { discoverResult } from '../operations/discover.js';
import { readResult } from '../operations/read.js';
import { diagnosticOf, type DeviceAnswer, type ServerRequest } from '../operations/types.js';
import type { BootstrapConfig } from './config.js';
import type { BootstrapOutcome, BootstrapSessionRecord, BootstrapStepRecord } from './history.js';
import { layoutFromDiscover, type DiscoveredLayout } from './instances.js';
import {
  chooseContentFormat, discoverStep, finishStep, modelsForLayout, readSteps, writeSteps, type BootstrapOperation, type PlannedStep,
} from './plan.js';

/** How requests reach the client. Must settle (reject) once `signal` aborts. */
export interface BootstrapTransport {
  send(request: ServerRequest, options: { readonly signal: AbortSignal; readonly timeoutMs: number }): Promise<DeviceAnswer>;
}

export interface BootstrapSessionOptions {
  id: string;
  endpoint: string;
  peer: PeerAddress;
  configKey: string;
  config: BootstrapConfig;
  preferredContentFormat?: number;
  models: ModelLookup;
  clock: Clock;
  /** Longest wait for one answer (ms). */
  stepTimeoutMs: number;
  transport: BootstrapTransport;
  logger?: Logger;
}

const OPERATION_NAMES: Readonly<Record<BootstrapOperation, string>> = {
  discover: 'Bootstrap-Discover',
  delete: 'Bootstrap-Delete',
  write: 'Bootstrap-Write',
  read: 'Bootstrap-Read',
  finish: 'Bootstrap-Finish',
};

const MAX_LINKS_KEPT = 4096;
const utf8 = new TextDecoder();

/** A step that got no answer; ends the session. */
class NoAnswer extends Error {}

type MutableRecord = { -readonly [K in keyof BootstrapSessionRecord]: BootstrapSessionRecord[K] };

export class BootstrapSession {
  readonly id: string;
  readonly endpoint: string;
  private readonly controller = new AbortController();
  private readonly log: Logger;
  private readonly steps: BootstrapStepRecord[] = [];
  private readonly rec: MutableRecord;
  private cancelReason: string | undefined;

  constructor(private readonly opts: BootstrapSessionOptions) {
    this.id = opts.id;
    this.endpoint = opts.endpoint;
    this.log = (opts.logger ?? silentLogger).child({ ep: opts.endpoint, bootstrapSession: opts.id });
    this.rec = {
      id: opts.id,
      endpoint: opts.endpoint,
      peer: { address: opts.peer.address, port: opts.peer.port },
      configKey: opts.configKey,
      ...(opts.preferredContentFormat !== undefined ? { preferredContentFormat: opts.preferredContentFormat } : {}),
      contentFormat: chooseContentFormat(opts.config, opts.preferredContentFormat),
      startedAt: opts.clock.now(),
      outcome: 'running',
      steps: this.steps,
    };
  }

  get outcome(): BootstrapOutcome {
    return this.rec.outcome;
  }

  /** A copy of the record as it stands. */
  snapshot(): BootstrapSessionRecord {
    return { ...this.rec, peer: { ...this.rec.peer }, steps: [...this.steps] };
  }

  /** Stops the session: the request in flight is abandoned, the record ends `failed` with `cancelled: reason`. */
  cancel(reason: string): void {
    if (this.controller.signal.aborted) return;
    this.cancelReason = reason;
    this.controller.abort();
  }

  /** Runs the session to its end; never throws. */
  async run(): Promise<BootstrapSessionRecord> {
    const { config } = this.opts;
    const format = this.rec.contentFormat as number;
    this.log.info({ peer: this.rec.peer, config: this.opts.configKey, contentFormat: format }, 'bootstrap session started');
    try {
      let layout: DiscoveredLayout | undefined;
      if (config.discover === true) layout = await this.discover();
      const models = modelsForLayout(this.opts.models, layout);
      let planned: PlannedStep[];
      try {
        planned = writeSteps(config, format, models, layout);
      } catch (e) {
        if (!isLwM2MError(e)) throw e;
        return this.end('failed', `config "${this.opts.configKey}" cannot be written: ${e.message}`);
      }
      for (const step of planned) {
        const answer = await this.exec(step);
        if (answer.code !== step.expect) return this.end('failed', this.refusal(step, answer));
      }
      for (const step of readSteps(config, format)) {
        const answer = await this.exec(step);
        const result = readResult(parsePath(step.path), answer, { models });
        if (result.ok) this.replaceLast(step, answer, { values: result.values ?? {} });
        else if (answer.code === step.expect) this.replaceLast(step, answer, { ok: false, diagnostic: result.diagnostic ?? 'undecodable' });
      }
      const fin = finishStep();
      const answer = await this.exec(fin);
      if (answer.code !== fin.expect) return this.end('failed', this.refusal(fin, answer));
      return this.end('ok');
    } catch (e) {
      if (e instanceof NoAnswer) return this.end('failed', e.message);
      this.log.error({ err: e }, 'bootstrap session crashed');
      return this.end('failed', `internal error: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  private async discover(): Promise<DiscoveredLayout | undefined> {
    const step = discoverStep();
    const answer = await this.exec(step);
    if (answer.code !== step.expect) return undefined;
    const links = utf8.decode(answer.payload.subarray(0, MAX_LINKS_KEPT));
    const parsed = discoverResult(answer);
    if (!parsed.ok || !parsed.links) {
      this.replaceLast(step, answer, { ok: false, diagnostic: parsed.diagnostic ?? 'undecodable link format', links });
      return undefined;
    }
    const layout = layoutFromDiscover(parsed.links);
    if (layout.lwm2mVersion !== undefined) this.rec.lwm2mVersion = layout.lwm2mVersion;
    this.replaceLast(step, answer, { links });
    return layout;
  }

  private refusal(step: PlannedStep, answer: DeviceAnswer): string {
    const diag = diagnosticOf(answer);
    const what = step.operation === 'finish' ? OPERATION_NAMES.finish : `${OPERATION_NAMES[step.operation]} ${step.path}`;
    return `${what} answered ${answer.code}${diag !== undefined ? `: ${diag}` : ''}`;
  }

  /** Sends one step and records it; a step without an answer records that and throws {@link NoAnswer}. */
  private async exec(step: PlannedStep): Promise<DeviceAnswer> {
    const name = step.operation === 'finish' ? OPERATION_NAMES.finish : `${OPERATION_NAMES[step.operation]} ${step.path}`;
    // Cancelled between steps: send nothing more.
    if (this.controller.signal.aborted) throw new NoAnswer(`${name}: cancelled: ${this.cancelReason ?? 'cancelled'}`);
    const clock = this.opts.clock;
    const started = clock.now();
    const stepAbort = new AbortController();
    let why: string | undefined;
    const onSessionAbort = (): void => {
      why = `cancelled: ${this.cancelReason ?? 'cancelled'}`;
      stepAbort.abort();
    };
    this.controller.signal.addEventListener('abort', onSessionAbort, { once: true });
    const timeoutMs = this.opts.stepTimeoutMs;
    const timer = clock.setTimeout(() => {
      why ??= `no answer within ${timeoutMs} ms`;
      stepAbort.abort();
    }, timeoutMs);
    const aborted = new Promise<never>((_, reject) => {
      const fire = (): void => reject(new NoAnswer(why ?? 'aborted'));
      if (stepAbort.signal.aborted) fire();
      else stepAbort.signal.addEventListener('abort', fire, { once: true });
    });
    aborted.catch(() => undefined);
    try {
      const answer = await Promise.race([this.opts.transport.send(step.request, { signal: stepAbort.signal, timeoutMs }), aborted]);
      const ok = answer.code === step.expect;
      const diagnostic = diagnosticOf(answer);
      const format = step.request.contentFormat ?? answer.contentFormat;
      this.steps.push({
        operation: step.operation, path: step.path, code: answer.code, ok,
        ...(diagnostic !== undefined ? { diagnostic } : {}),
        ...(format !== undefined ? { contentFormat: format } : {}),
        startedAt: started, durationMs: clock.now() - started,
      });
      this.log.debug({ op: step.operation, path: step.path, code: answer.code }, 'bootstrap step');
      return answer;
    } catch (e) {
      const reason = why ?? (e instanceof Error ? e.message : String(e));
      this.steps.push({ operation: step.operation, path: step.path, ok: false, diagnostic: reason, startedAt: started, durationMs: clock.now() - started });
      // No answer ends the session whatever the step, informational ones included: the client is gone.
      throw new NoAnswer(`${name}: ${reason}`);
    } finally {
      timer.cancel();
      this.controller.signal.removeEventListener('abort', onSessionAbort);
      if (!stepAbort.signal.aborted) stepAbort.abort();
    }
  }

  /** Amends the record of the step just taken (decoded read values, discover links, decode failures). */
  private replaceLast(step: PlannedStep, answer: DeviceAnswer, extra: Partial<BootstrapStepRecord>): void {
    const last = this.steps[this.steps.length - 1];
    if (!last || last.operation !== step.operation || last.path !== step.path) return;
    this.steps[this.steps.length - 1] = { ...last, ...extra, code: answer.code };
  }

  private end(outcome: 'ok' | 'failed', reason?: string): BootstrapSessionRecord {
    this.rec.outcome = outcome;
    this.rec.endedAt = this.opts.clock.now();
    if (reason !== undefined) this.rec.reason = reason;
    if (outcome === 'ok') this.log.info({ steps: this.steps.length }, 'bootstrap session finished');
    else this.log.warn({ reason, steps: this.steps.length }, 'bootstrap session failed');
    const done = this.snapshot();
    return Object.freeze({ ...done, steps: Object.freeze(done.steps.map((s) => Object.freeze({ ...s }))) });
  }
}
