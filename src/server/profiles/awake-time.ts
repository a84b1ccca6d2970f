/**
 * Cumulocity's awake-time precedence ("LWM2M client awake time is determined based on the following
 * priority"): the device's `awakeTimeRegistrationParameter` (ms, from the bulk-registration CSV), else
 * the `at` attribute of its Register/Update (seconds, non-standard), else the server's global setting.
 * 0 means always online.
 */
import type { Registration } from '../registration/registration.js';

export type AwakeTimeSource = 'registration-parameter' | 'at-attribute' | 'server-default';

export interface AwakeTime {
  readonly ms: number;
  readonly source: AwakeTimeSource;
}

export function resolveAwakeTime(
  registeredMs: number | undefined, registration: Pick<Registration, 'awakeTime'> | undefined, defaultMs: number,
): AwakeTime {
  if (registeredMs !== undefined) return { ms: registeredMs, source: 'registration-parameter' };
  if (registration?.awakeTime !== undefined) return { ms: registration.awakeTime * 1000, source: 'at-attribute' };
  return { ms: defaultMs, source: 'server-default' };
}
