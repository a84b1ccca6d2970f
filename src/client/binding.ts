import { LwM2MError } from '../core/errors.js';

/** A binding as stored in /1/x/7 ("U", "UQ", "UQS", 1.1 "UT", …): transports plus queue mode. */
export interface Binding {
  /** Transport letters in order: U (UDP), T (TCP), S (SMS), N (Non-IP). */
  readonly transports: string;
  readonly queueMode: boolean;
}

/**
 * The binding values LwM2M 1.0 defines (LwM2M-TS 1.0.2 §5.3.1.1, Table 9, and Appendix E.2 /1/x/7):
 * UDP, UDP queue mode, SMS, SMS queue mode, UDP and SMS, UDP queue mode and SMS.
 */
export const LWM2M_1_0_BINDINGS = ['U', 'UQ', 'S', 'SQ', 'US', 'UQS'] as const;
export type LwM2M10Binding = (typeof LWM2M_1_0_BINDINGS)[number];

/** Parses a binding string (LwM2M-TS-Core 1.0 §5.3.1.1 values, 1.1 §6.2.1.1 letters + Q). */
export function parseBinding(text: string): Binding {
  if (!/^[UTSNQ]{1,5}$/.test(text) || new Set(text).size !== text.length) {
    throw new LwM2MError('BAD_VALUE', `binding "${text}" is not a combination of U, T, S, N and Q`);
  }
  return { transports: text.replace('Q', ''), queueMode: text.includes('Q') };
}

/**
 * Why a binding value cannot be used by a client of `lwm2mVersion`, or undefined when it can.
 *
 * - 1.0 accepts exactly U, UQ, S, SQ, US, UQS (1.0.2 §5.3.1.1 Table 9); T and N do not exist in 1.0.
 * - 1.1 has one queue mode for the whole client, sent as the separate `Q` parameter
 *   (LwM2M-TS-Core 1.1 §6.2.1 Table 6.2.1-1; Transport 1.1 §5 lists U, T, S, N as the bindings and
 *   §6.5 queue mode per client). "UQ" and "SQ" map onto `b=U&Q` / `b=S&Q`; "UQS" — UDP queued while
 *   SMS stays reachable — has no 1.1 equivalent and is refused.
 */
export function bindingProblem(text: string, lwm2mVersion: '1.0' | '1.1'): string | undefined {
  if (lwm2mVersion === '1.0') {
    if ((LWM2M_1_0_BINDINGS as readonly string[]).includes(text)) return undefined;
    return `binding "${text}" is not an LwM2M 1.0 binding (U, UQ, S, SQ, US or UQS — LwM2M-TS 1.0.2 §5.3.1.1)`;
  }
  if (!/^[UTSNQ]{1,5}$/.test(text) || new Set(text).size !== text.length) {
    return `binding "${text}" is not a combination of U, T, S, N and Q (LwM2M-TS-Core 1.1 §6.2.1.1)`;
  }
  const q = text.indexOf('Q');
  if (q >= 0 && q !== text.length - 1 && text !== 'UQ') {
    return `binding "${text}" puts one transport in queue mode and keeps another reachable: LwM2M 1.0 only — in 1.1 queue mode covers every transport (LwM2M-TS-Core 1.1 §6.2.1.1, Transport 1.1 §5); use lwm2m: "1.0", or "${text.replace('Q', '')}Q"`;
  }
  return undefined;
}

/** True when the binding includes the SMS transport (the registration then may carry `sms=`). */
export function hasSms(binding: Binding): boolean {
  return binding.transports.includes('S');
}

/**
 * Registration query parameters for a binding: 1.0 sends `b=UQ` (queue inside the binding);
 * 1.1 sends `b=U` and a bare `Q` (LwM2M-TS-Core 1.1 §6.2.1, Table 6.2.1-1). With an SMS binding and an
 * MSISDN, `sms=` follows (1.0.2 §5.3.1 Table 8 / 1.1 Table 6.2.1-1: the client's MSISDN).
 */
export function bindingQuery(binding: Binding, lwm2mVersion: string, msisdn?: string): string[] {
  const sms = msisdn !== undefined && hasSms(binding) ? [`sms=${msisdn}`] : [];
  if (lwm2mVersion === '1.0') {
    // 1.0 defines U, UQ, S, SQ, US, UQS: Q follows the U (or the S of "SQ").
    const t = binding.transports;
    if (!binding.queueMode) return [`b=${t}`, ...sms];
    return [`b=${t.includes('U') ? t.replace('U', 'UQ') : `${t}Q`}`, ...sms];
  }
  return [...(binding.queueMode ? [`b=${binding.transports}`, 'Q'] : [`b=${binding.transports}`]), ...sms];
}
