/**
 * The endpoint binding of the LwM2M server's DTLS listener: a request over DTLS may only act as the
 * endpoint its session's PSK identity is bound to. DTLS authenticates the credentials (LwM2M-TS-Core 1.1
 * §7: mutual authentication of client and server), not the `ep` the client then names; without this
 * check any device holding a valid key could register, update or de-register in another device's name.
 * Leshan's SecurityChecker does the same (identity of the session vs. the endpoint's SecurityInfo).
 *
 * - Register over DTLS with an `ep` other than the identity's endpoint → 4.03 Forbidden (Core 1.1
 *   §6.2.1 response table).
 * - Update / De-register over DTLS from an identity not bound to the registration's endpoint → 4.00
 *   with a `forbidden: …` diagnostic: the Update and De-register response tables (Core 1.1 §6.2.2,
 *   §6.2.3) have no 4.03, and Leshan answers `badRequest("forbidden")` the same way (see
 *   {@link defaultAuthorizer}, which then checks that the identity is the one that registered).
 * - Plain UDP requests are not affected here ({@link defaultAuthorizer} still keeps a plain Register
 *   from replacing a DTLS registration).
 */
import { defaultAuthorizer, type RegistrationAuthorizer } from '../registration/service.js';
import { failure } from '../registration/request.js';
import { bindingRefusal } from './secure-socket.js';
import type { PskBindings } from './psk-store.js';

export function pskBindingAuthorizer(bindings: PskBindings, next: RegistrationAuthorizer = defaultAuthorizer): RegistrationAuthorizer {
  return (input) => {
    if (input.request.transport === 'dtls') {
      if (input.operation === 'register') {
        const why = bindingRefusal(bindings, input.request.pskIdentity, input.endpoint, 'Register');
        if (why !== undefined) return failure('4.03', why);
      } else {
        const why = bindingRefusal(bindings, input.request.pskIdentity, input.existing.endpoint, input.operation === 'update' ? 'Update' : 'De-register');
        if (why !== undefined) return failure('4.00', why);
      }
    }
    return next(input);
  };
}
