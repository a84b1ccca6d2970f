import { readFileSync } from 'node:fs';
import { freemem } from 'node:os';

/** Sockets a process can hold: the soft `ulimit -n` (Linux /proc/self/limits), or undefined if unknown. */
export function openFileLimit(): number | undefined {
  try {
    const text = readFileSync('/proc/self/limits', 'utf8');
    const m = /^Max open files\s+(\d+|unlimited)\s+/m.exec(text);
    if (!m) return undefined;
    return m[1] === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(m[1]);
  } catch {
    return undefined;
  }
}

/** Ephemeral port range (each device's UDP socket takes one port). */
export function ephemeralPorts(): number | undefined {
  try {
    const [lo, hi] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    return lo !== undefined && hi !== undefined && hi >= lo ? hi - lo + 1 : undefined;
  } catch {
    return undefined;
  }
}

/** Measured heap + buffers per simulated device (bench:fleet), with headroom. */
export const BYTES_PER_DEVICE_ESTIMATE = 64 * 1024;
/** File descriptors a process needs besides device sockets. */
export const FD_RESERVE = 200;

export interface CapacityCheck {
  readonly ok: boolean;
  /** Devices one process can hold. */
  readonly perProcess: number;
  readonly problems: string[];
}

/**
 * Checks that `devices` fit this machine: ephemeral ports, memory, and file descriptors per process
 * (several processes are used when one cannot hold them all). Says what to change when they do not.
 */
export function checkCapacity(devices: number, processes: number): CapacityCheck {
  const problems: string[] = [];
  const fd = openFileLimit() ?? 1024;
  const perProcess = Math.max(0, fd - FD_RESERVE);
  if (Math.ceil(devices / Math.max(1, processes)) > perProcess) {
    problems.push(`${devices} devices need ${Math.ceil(devices / perProcess)} processes at ulimit -n ${fd} (one socket per device); ` +
      `raise it (ulimit -n ${Math.ceil(devices / Math.max(1, processes)) + FD_RESERVE}), run more processes (--processes ${Math.ceil(devices / Math.max(1, perProcess))}) ` +
      'or shard the run (--shard i/n on several machines)');
  }
  const ports = ephemeralPorts();
  if (ports !== undefined && devices > ports - 1000) {
    problems.push(`${devices} devices need ${devices} local UDP ports but net.ipv4.ip_local_port_range offers ${ports}; ` +
      'widen the range (sysctl -w net.ipv4.ip_local_port_range="1024 65535") or shard across machines');
  }
  const need = devices * BYTES_PER_DEVICE_ESTIMATE;
  if (need > freemem() * 0.9) {
    problems.push(`${devices} devices need about ${Math.round(need / 2 ** 20)} MiB but ${Math.round(freemem() / 2 ** 20)} MiB are free; ` +
      'run fewer devices per machine (--shard i/n)');
  }
  return { ok: problems.length === 0, perProcess, problems };
}

/** Upper bound on forked processes (a guard against absurd requests). */
export const MAX_PROCESSES = 64;

export interface ProcessPlan {
  /** Processes to run the devices in (1 = this process alone). */
  readonly processes: number;
  /** Devices one process can hold (file descriptors). */
  readonly perProcess: number;
  /** Why this number: forced by --processes, or the file-descriptor limit. */
  readonly reason: string;
}

/**
 * How many processes `devices` need: `forced` (--processes) when given, else one process when its
 * file-descriptor limit holds them (one UDP socket per device), else enough processes that each fits.
 */
export function planProcesses(devices: number, forced?: number): ProcessPlan {
  const fd = openFileLimit() ?? 1024;
  const perProcess = Math.max(1, fd - FD_RESERVE);
  if (forced !== undefined) {
    return { processes: Math.max(1, Math.min(MAX_PROCESSES, forced)), perProcess, reason: '--processes' };
  }
  const processes = Math.max(1, Math.ceil(devices / perProcess));
  return {
    processes: Math.min(MAX_PROCESSES, processes),
    perProcess,
    reason: processes > 1 ? `${devices} devices exceed one process's ${perProcess} sockets (ulimit -n ${fd}, one UDP socket per device)` : 'fits one process',
  };
}
