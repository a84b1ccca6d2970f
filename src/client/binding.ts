import { LwM2MError } from '../core/errors.js';

/** A binding as stored in /1/x/7 ("U", "UQ", "UQS", 1.1 "UT", …): transports plus queue mode. */
export interface Binding {
  /** Transport letters in order: U (UDP), T (TCP), S (SMS), N (Non-IP). */
  readonly transports: string;
  readonly queueMode: boolean;
}

/** Parses a binding string (LwM2M-TS-Core 1.0 §5.3.1.1 values, 1.1 §6.2.1.1 letters + Q). */
export function parseBinding(text: string): Binding {
  if (!/^[UTSNQ]{1,5}$/.test(text) || new Set(text).size !== text.length) {
    throw new LwM2MError('BAD_VALUE', `binding "${text}" is not a combination of U, T, S, N and Q`);
  }
  return { transports: text.replace('Q', ''), queueMode: text.includes('Q') };
}

/**
 * Registration query parameters for a binding: 1.0 sends `b=UQ` (queue inside the binding);
 * 1.1 sends `b=U` and a bare `Q` (LwM2M-TS-Core 1.1 §6.2.1, Table 6.2.1-1).
 */
export function bindingQuery(binding: Binding, lwm2mVersion: string): string[] {
  if (lwm2mVersion === '1.0') {
    // 1.0 defines U, UQ, S, SQ, US, UQS: Q follows the U.
    const t = binding.transports;
    if (!binding.queueMode) return [`b=${t}`];
    return [`b=${t.includes('U') ? t.replace('U', 'UQ') : `${t}Q`}`];
  }
  return binding.queueMode ? [`b=${binding.transports}`, 'Q'] : [`b=${binding.transports}`];
}
