import { LwM2MError } from '../core/errors.js';
import type { LwM2MPath } from '../core/path.js';
import type { ResourceValue } from '../model/node.js';
import type { RequestContext } from './context.js';
import type { ObjectInstance } from './instance.js';
import type { ObjectTree } from './object-tree.js';

/** Access rights of the ACL resource /2/x/2 (LwM2M-TS-Core 1.1 §E.3, Table: ACL bit field). */
export const Rights = { R: 1, W: 2, E: 4, D: 8, C: 16 } as const;
export type Right = keyof typeof Rights;

const SECURITY = 0;
const SERVER = 1;
const ACL = 2;
/** /2/x/1 = 65535 means "the object itself" (Create right). */
export const ACL_OBJECT_LEVEL = 65535;
/** ACL entry key 0 is the default for servers without an entry of their own. */
const DEFAULT_KEY = 0;

/**
 * Access control as the LwM2M-TS-Core 1.1 §7.3.2 / 1.0.2 Appendix E flowchart describes it:
 * 1. Security (object 0) is never reachable by a DM server → 4.04.
 * 2. With one server account (one Server instance) there is no access control.
 * 3. Otherwise look for the ACL instance of the target (object, instance): none → 4.01.
 * 4. Use the server's own entry, else the default entry (key 0), else full rights for the Access Control
 *    Owner (/2/x/3), else 4.01.
 * Create checks the object-level ACL instance (instance id 65535) for the C right.
 */
export class AccessControl {
  constructor(private readonly tree: ObjectTree) {}

  /** More than one server account → ACL applies. */
  enabled(): boolean {
    const servers = this.tree.object(SERVER);
    return (servers?.size ?? 0) > 1 && this.tree.object(ACL) !== undefined;
  }

  /** Throws 4.04 for Security and 4.01 when `right` is not granted on `path`. */
  check(ctx: RequestContext, path: LwM2MPath, right: Right): void {
    if (ctx.internal || ctx.bootstrap) return;
    if (path.objectId === SECURITY) {
      throw new LwM2MError('NOT_FOUND', 'the Security object is not accessible to LwM2M servers');
    }
    if (!this.enabled() || path.objectId === undefined) return;
    const ssid = ctx.shortServerId;
    if (ssid === undefined) throw new LwM2MError('UNAUTHORIZED', 'request from an unknown server');
    if (path.objectId === ACL) {
      // ACL instances: readable by every server; changed only by their owner (§E.1).
      if (right === 'R') return;
      const inst = path.instanceId === undefined ? undefined : this.tree.object(ACL)?.instance(path.instanceId);
      if (inst && inst.get(3) === ssid && right === 'W') return;
      throw new LwM2MError('UNAUTHORIZED', `server ${ssid} may not ${right} ${path.toString()}`);
    }
    const iid = right === 'C' ? ACL_OBJECT_LEVEL : path.instanceId;
    if (iid === undefined) return; // object-level reads are filtered per instance by the caller
    if (!this.granted(ssid, path.objectId, iid, right)) {
      throw new LwM2MError('UNAUTHORIZED', `server ${ssid} has no ${right} right on ${right === 'C' ? `/${path.objectId}` : `/${path.objectId}/${iid}`}`);
    }
  }

  /** True when the server may read this instance (for object-level reads, discover and observe). */
  canRead(ctx: RequestContext, instance: ObjectInstance): boolean {
    if (ctx.internal || ctx.bootstrap) return true;
    if (instance.objectId === SECURITY) return false;
    if (!this.enabled() || instance.objectId === ACL) return true;
    return ctx.shortServerId !== undefined && this.granted(ctx.shortServerId, instance.objectId, instance.id, 'R');
  }

  granted(ssid: number, objectId: number, instanceId: number, right: Right): boolean {
    const acl = this.findAcl(objectId, instanceId);
    if (!acl) return false;
    const entries = acl.get(2);
    const map = entries instanceof Map ? (entries as ReadonlyMap<number, ResourceValue>) : new Map<number, ResourceValue>();
    const own = map.get(ssid) ?? map.get(DEFAULT_KEY);
    if (own !== undefined) return (Number(own) & Rights[right]) !== 0;
    return acl.get(3) === ssid && right !== 'C';
  }

  findAcl(objectId: number, instanceId: number): ObjectInstance | undefined {
    for (const inst of this.tree.object(ACL)?.instanceList() ?? []) {
      if (inst.get(0) === objectId && inst.get(1) === instanceId) return inst;
    }
    return undefined;
  }

  /**
   * After a DM server creates an instance, the client creates its ACL instance with that server as
   * owner (LwM2M-TS-Core 1.1 §E.1 "Access Control Owner").
   */
  onCreated(ctx: RequestContext, objectId: number, instanceId: number): void {
    const aclObject = this.tree.object(ACL);
    if (!aclObject || ctx.shortServerId === undefined || objectId === ACL || !this.enabled()) return;
    if (this.findAcl(objectId, instanceId)) return;
    const inst = aclObject.create(undefined, { shortServerId: undefined, bootstrap: false, internal: true });
    inst.set(0, objectId);
    inst.set(1, instanceId);
    inst.set(3, ctx.shortServerId);
  }

  /** Deleting an instance deletes its ACL instance too. */
  onDeleted(objectId: number, instanceId: number): void {
    const acl = this.findAcl(objectId, instanceId);
    if (acl) this.tree.object(ACL)?.delete(acl.id);
  }
}
