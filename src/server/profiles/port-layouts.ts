/**
 * The port layouts of `lwm2m-server --profile NAME`: the ports each platform documents for its LwM2M
 * server and Bootstrap-Server, so that devices configured for the platform find ours at the same place.
 * Explicit `--coap-port`, `--coaps-port`, `--bs-coap-port`, `--bs-coaps-port` still override.
 *
 * - ThingsBoard: LwM2M server 5685 (CoAP) / 5686 (DTLS), Bootstrap-Server 5687 / 5688.
 * - Cumulocity: Bootstrap-Server 5683 / 5684, LwM2M server 5783 / 5784 ("LWM2M bootstrap server URL:
 *   coaps://lwm2m.cumulocity.com:5684 … LWM2M server URL: coaps://lwm2m.cumulocity.com:5784").
 */
export interface PortLayout {
  readonly server: { readonly coap: number; readonly coaps: number };
  readonly bootstrap: { readonly coap: number; readonly coaps: number };
}

export const PORT_LAYOUTS = {
  thingsboard: { server: { coap: 5685, coaps: 5686 }, bootstrap: { coap: 5687, coaps: 5688 } },
  cumulocity: { server: { coap: 5783, coaps: 5784 }, bootstrap: { coap: 5683, coaps: 5684 } },
} as const satisfies Record<string, PortLayout>;

export type PlatformProfileName = keyof typeof PORT_LAYOUTS;

export const PLATFORM_PROFILE_NAMES = Object.keys(PORT_LAYOUTS) as PlatformProfileName[];

export function isPlatformProfileName(v: string): v is PlatformProfileName {
  return Object.hasOwn(PORT_LAYOUTS, v);
}
