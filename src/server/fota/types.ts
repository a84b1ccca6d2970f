/**
 * The shapes of server-side firmware update (LwM2M-TS-Core 1.1 §E.6, Firmware Update object /5): what a
 * job is asked to do, the phases it goes through, and how it ended.
 */

export type FotaMethod = 'push' | 'pull';
export type FotaProtocol = 'coap' | 'coaps' | 'http' | 'https';
/**
 * How the device's firmware state is reset to Idle before a delivery and on cancel (§E.6: "Writing an
 * empty string to Package URI or setting Package to NULL ('\0') resets the state machine"): an empty
 * write to /5/0/0 (`package`) or an empty string to /5/0/1 (`package-uri`).
 */
export type ResetMechanism = 'package' | 'package-uri';

/** Per-step bounds, ms. */
export interface FotaTimeouts {
  /** Each DM request (reset, read, write, execute; each block of a push). Default 30 000. */
  requestMs: number;
  /** Delivery until the device reports State 2 Downloaded (the whole push transfer, or the pull download). Default 600 000. */
  deliveryMs: number;
  /** From Update (/5/0/2) executed until State 0 with Result 1 after the device's restart. Default 300 000. */
  updateMs: number;
  /** Waiting for a sleeping (queue mode) or unreachable device to come back, each time. Default 3 600 000. */
  offlineMs: number;
  /** While waiting for a state change, /5/0/3 and /5/0/5 are read again this often (lost notifications). Default 15 000. */
  pollMs: number;
}

export const DEFAULT_FOTA_TIMEOUTS: Readonly<FotaTimeouts> = Object.freeze({
  requestMs: 30_000, deliveryMs: 600_000, updateMs: 300_000, offlineMs: 3_600_000, pollMs: 15_000,
});

/** What `POST /api/v1/clients/{ep}/firmware` asks for. */
export interface FotaJobSpec {
  readonly method: FotaMethod;
  /** Pull only; default coap. */
  readonly protocol?: FotaProtocol;
  /** Push Block1 size (16–1024). Default 512. */
  readonly blockSize?: number;
  /** Default `package` for push, `package-uri` for pull. */
  readonly resetMechanism?: ResetMechanism;
  readonly timeouts?: Partial<FotaTimeouts>;
  /** Deliveries at most (a redelivery follows a lost connection or a device that fell back to Idle). Default 3. */
  readonly maxDeliveries?: number;
}

/**
 * Phases of a job. Non-terminal: queued → resetting → reading → observing → delivering → downloading →
 * updating; `waiting` while the device sleeps or is unreachable; `cancelling` while the cancel runs.
 */
export type FotaPhase =
  | 'queued' | 'waiting' | 'resetting' | 'reading' | 'observing' | 'delivering' | 'downloading' | 'updating' | 'cancelling'
  | 'succeeded' | 'failed' | 'cancelled';

export const TERMINAL_PHASES: ReadonlySet<FotaPhase> = new Set(['succeeded', 'failed', 'cancelled']);

export type FotaOutcomeStatus = 'success' | 'failed' | 'timeout' | 'cancelled';

export interface FotaOutcome {
  readonly status: FotaOutcomeStatus;
  /** The phase the job was in when it ended. */
  readonly phase: FotaPhase;
  /** /5/0/5 Update Result the device reported, when known. */
  readonly updateResult?: number;
  readonly updateResultName?: string;
  readonly reason: string;
}

/** /5/0/5 Update Result names (§E.6). */
export const UPDATE_RESULT_NAMES: Readonly<Record<number, string>> = {
  0: 'initial', 1: 'success', 2: 'not enough storage', 3: 'out of memory', 4: 'connection lost during download',
  5: 'integrity check failure', 6: 'unsupported package type', 7: 'invalid URI', 8: 'firmware update failed',
  9: 'unsupported protocol', 10: 'firmware update cancelled', 11: 'firmware update deferred',
};

/** /5/0/3 State names (§E.6). */
export const STATE_NAMES: Readonly<Record<number, string>> = { 0: 'idle', 1: 'downloading', 2: 'downloaded', 3: 'updating' };

/** /5/0/8 Firmware Update Protocol Support values (§E.6). */
export const PROTOCOL_NUMBERS: Readonly<Record<FotaProtocol, number>> = { coap: 0, coaps: 1, http: 2, https: 3 };

/** A job as the API shows it. */
export interface FotaJobSnapshot {
  id: string;
  endpoint: string;
  campaignId?: string;
  image: { id: string; name: string; version: string; size: number };
  method: FotaMethod;
  protocol?: FotaProtocol;
  uri?: string;
  blockSize?: number;
  resetMechanism: ResetMechanism;
  phase: FotaPhase;
  /** /5/0/3 and /5/0/5 as last seen. */
  deviceState?: number;
  updateResult?: number;
  /** Bytes the device acknowledged (push) or fetched over CoAP (pull). */
  bytesSent: number;
  totalBytes: number;
  /** 0–100; null when unknown (a pull over HTTP before Downloaded). */
  percent: number | null;
  deliveries: number;
  reconnects: number;
  createdAt: string;
  finishedAt?: string;
  outcome?: FotaOutcome;
  /** Phase changes, oldest first (bounded). */
  history: Array<{ at: string; phase: FotaPhase; detail?: string }>;
}
