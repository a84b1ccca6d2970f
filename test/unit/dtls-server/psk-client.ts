/**
 * A scriptable DTLS 1.2 PSK *client* for protocol tests over the in-memory network (node-dtls-client
 * cannot take a custom socket). It reuses the server's codecs, so it proves protocol logic, not
 * interoperability: that is what the node-dtls-client and libcoap tests are for. Every step is exposed
 * so a test can break the handshake where it wants (wrong key, bad Finished, lost flights…).
 */
import { createHash, randomBytes, type Hash } from 'node:crypto';
import type { DatagramSocket, RemoteInfo } from '../../../src/transport/datagram.js';
import { ContentType, DTLS_1_2, HandshakeType } from '../../../src/transport/dtls/server/constants.js';
import {
  CIPHER_SUITES, cipherSuiteById, keyBlockLength, openRecord, sealRecord, splitKeyBlock, type CipherSuite, type TrafficKeys,
} from '../../../src/transport/dtls/server/cipher-suites.js';
import { encodeHandshake, parseHandshakeFragments, type HandshakeFragment } from '../../../src/transport/dtls/server/handshake-codec.js';
import { extendedMasterSecret, keyBlock, masterSecret, pskPremasterSecret, verifyData } from '../../../src/transport/dtls/server/prf.js';
import { encodeRecord, parseRecords, type DtlsRecord } from '../../../src/transport/dtls/server/record.js';

export interface ClientOptions {
  identity?: string;
  psk?: Buffer;
  cipherSuites?: number[];
  clientVersion?: number;
  compression?: number[];
  extensions?: Array<{ type: number; data: Buffer }>;
}

export interface Received {
  records: DtlsRecord[];
  /** Epoch-1 records decrypted with the session keys (when known). */
  plain: Array<{ type: number; epoch: number; seq: number; data: Buffer }>;
}

export class PskTestClient {
  readonly identity: string;
  readonly psk: Buffer;
  seq0 = 0;
  seq1 = 0;
  msgSeq = 0;
  readonly clientRandom = randomBytes(32);
  serverRandom: Buffer | undefined;
  suite: CipherSuite | undefined;
  keys: { client: TrafficKeys; server: TrafficKeys } | undefined;
  master: Buffer | undefined;
  ems = false;
  transcript: Hash = createHash('sha256');
  private inbox: Array<{ msg: Buffer; rinfo: RemoteInfo }> = [];
  private waiters: Array<() => void> = [];

  constructor(readonly socket: DatagramSocket, readonly server: { address: string; port: number }, readonly options: ClientOptions = {}) {
    this.identity = options.identity ?? 'dev1';
    this.psk = options.psk ?? Buffer.from('secret-key-0123');
    socket.on('message', (msg, rinfo) => {
      this.inbox.push({ msg, rinfo });
      for (const w of this.waiters.splice(0)) w();
    });
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** Sends raw bytes to the server. */
  raw(buf: Buffer): void {
    this.socket.send(buf, 0, buf.length, this.server.port, this.server.address);
  }

  record(type: number, epoch: 0 | 1, payload: Buffer, seq?: number): Buffer {
    if (epoch === 0) return encodeRecord(type, DTLS_1_2, 0, seq ?? this.seq0++, payload);
    if (!this.suite || !this.keys) throw new Error('no keys yet');
    const s = seq ?? this.seq1++;
    return encodeRecord(type, DTLS_1_2, 1, s, sealRecord(this.suite, this.keys.client, type, DTLS_1_2, 1, s, payload));
  }

  helloBody(cookie: Buffer = Buffer.alloc(0)): Buffer {
    const o = this.options;
    const suites = o.cipherSuites ?? [CIPHER_SUITES.TLS_PSK_WITH_AES_128_CCM_8.id, CIPHER_SUITES.TLS_PSK_WITH_AES_128_GCM_SHA256.id];
    const comp = o.compression ?? [0];
    const parts: Buffer[] = [];
    const v = Buffer.alloc(2);
    v.writeUInt16BE(o.clientVersion ?? DTLS_1_2);
    parts.push(v, this.clientRandom, Buffer.from([0]), Buffer.from([cookie.length]), cookie);
    const cs = Buffer.alloc(2 + suites.length * 2);
    cs.writeUInt16BE(suites.length * 2);
    suites.forEach((s, i) => cs.writeUInt16BE(s, 2 + i * 2));
    parts.push(cs, Buffer.from([comp.length, ...comp]));
    const exts = o.extensions ?? [];
    if (exts.length > 0) {
      const e = Buffer.concat(exts.map((x) => {
        const h = Buffer.alloc(4);
        h.writeUInt16BE(x.type);
        h.writeUInt16BE(x.data.length, 2);
        return Buffer.concat([h, x.data]);
      }));
      const l = Buffer.alloc(2);
      l.writeUInt16BE(e.length);
      parts.push(l, e);
    }
    return Buffer.concat(parts);
  }

  /** Sends a ClientHello (new message_seq); the one carrying a cookie starts the transcript. */
  sendHello(cookie?: Buffer): Buffer {
    const body = this.helloBody(cookie);
    const msg = encodeHandshake(HandshakeType.clientHello, this.msgSeq++, body);
    if (cookie) {
      this.transcript = createHash('sha256');
      this.transcript.update(msg);
    }
    const rec = this.record(ContentType.handshake, 0, msg);
    this.raw(rec);
    return rec;
  }

  /** Next datagram from the server (bounded wait). */
  async receive(timeoutMs = 2000): Promise<Received> {
    const deadline = Date.now() + timeoutMs;
    while (this.inbox.length === 0) {
      if (Date.now() >= deadline) throw new Error(`no datagram from the server within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.max(1, deadline - Date.now()));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    const { msg } = this.inbox.shift() as { msg: Buffer; rinfo: RemoteInfo };
    const { records } = parseRecords(msg);
    const plain: Received['plain'] = [];
    for (const r of records) {
      if (r.epoch === 0) plain.push({ type: r.type, epoch: 0, seq: r.seq, data: r.fragment });
      else if (this.suite && this.keys) {
        const p = openRecord(this.suite, this.keys.server, r.type, r.version, r.epoch, r.seq, r.fragment);
        if (p) plain.push({ type: r.type, epoch: 1, seq: r.seq, data: p });
      }
    }
    return { records, plain };
  }

  /** Datagrams waiting (not yet received). */
  get pending(): number {
    return this.inbox.length;
  }

  /** ClientHello → HelloVerifyRequest; returns the cookie. */
  async getCookie(): Promise<Buffer> {
    this.sendHello();
    const r = await this.receive();
    const f = handshakeOf(r)[0];
    if (!f || f.msgType !== HandshakeType.helloVerifyRequest) throw new Error(`expected HelloVerifyRequest, got ${describe(r)}`);
    return f.body.subarray(3, 3 + (f.body[2] as number));
  }

  /** ClientHello with cookie → flight 4 (processes ServerHello, adds it all to the transcript). */
  async helloWithCookie(cookie: Buffer): Promise<HandshakeFragment[]> {
    this.sendHello(cookie);
    return this.readFlight4();
  }

  async readFlight4(): Promise<HandshakeFragment[]> {
    const msgs: HandshakeFragment[] = [];
    for (let i = 0; i < 4 && !msgs.some((m) => m.msgType === HandshakeType.serverHelloDone); i++) {
      const r = await this.receive();
      const alert = r.plain.find((p) => p.type === ContentType.alert);
      if (alert) throw new AlertError(alert.data[1] as number);
      msgs.push(...handshakeOf(r));
    }
    for (const m of msgs) {
      this.transcript.update(encodeHandshake(m.msgType, m.messageSeq, m.body));
      if (m.msgType === HandshakeType.serverHello) {
        this.serverRandom = Buffer.from(m.body.subarray(2, 34));
        const sidLen = m.body[34] as number;
        this.suite = cipherSuiteById(m.body.readUInt16BE(35 + sidLen));
        this.ems = m.body.includes(Buffer.from([0x00, 0x17, 0x00, 0x00]), 38 + sidLen);
      }
    }
    this.msgSeq = Math.max(this.msgSeq, (msgs[0]?.messageSeq ?? 0) + 1);
    return msgs;
  }

  /** ClientKeyExchange, ChangeCipherSpec, Finished (one datagram). `finished` overrides verify_data. */
  flight5(opts: { finished?: Buffer; identity?: string; psk?: Buffer } = {}): Buffer[] {
    const id = Buffer.from(opts.identity ?? this.identity, 'utf8');
    const ckeBody = Buffer.concat([Buffer.from([id.length >> 8, id.length & 0xff]), id]);
    const cke = encodeHandshake(HandshakeType.clientKeyExchange, this.msgSeq++, ckeBody);
    this.transcript.update(cke);
    const suite = this.suite as CipherSuite;
    const pms = pskPremasterSecret(opts.psk ?? this.psk);
    this.master = this.ems
      ? extendedMasterSecret(pms, this.transcript.copy().digest())
      : masterSecret(pms, this.clientRandom, this.serverRandom as Buffer);
    this.keys = splitKeyBlock(suite, keyBlock(this.master, this.clientRandom, this.serverRandom as Buffer, keyBlockLength(suite)));
    const vd = opts.finished ?? verifyData(this.master, 'client finished', this.transcript.copy().digest());
    const fin = encodeHandshake(HandshakeType.finished, this.msgSeq++, vd);
    this.transcript.update(fin);
    return [this.record(ContentType.handshake, 0, cke), this.record(ContentType.changeCipherSpec, 0, Buffer.from([1])), this.record(ContentType.handshake, 1, fin)];
  }

  /** Reads flight 6 and checks the server Finished. */
  async readFlight6(): Promise<void> {
    for (let i = 0; i < 3; i++) {
      const r = await this.receive();
      const alert = r.plain.find((p) => p.type === ContentType.alert);
      if (alert) throw new AlertError(alert.data[1] as number);
      const fin = r.plain.find((p) => p.epoch === 1 && p.type === ContentType.handshake);
      if (fin) {
        const f = parseHandshakeFragments(fin.data)[0] as HandshakeFragment;
        const expected = verifyData(this.master as Buffer, 'server finished', this.transcript.copy().digest());
        if (!f.body.equals(expected)) throw new Error('server Finished does not verify');
        return;
      }
    }
    throw new Error('no server Finished');
  }

  /** The whole handshake. */
  async handshake(): Promise<void> {
    const cookie = await this.getCookie();
    await this.helloWithCookie(cookie);
    this.raw(Buffer.concat(this.flight5()));
    await this.readFlight6();
  }

  sendApp(data: Buffer | string): Buffer {
    const rec = this.record(ContentType.applicationData, 1, Buffer.from(data));
    this.raw(rec);
    return rec;
  }

  async receiveApp(): Promise<Buffer> {
    for (let i = 0; i < 4; i++) {
      const r = await this.receive();
      const app = r.plain.find((p) => p.type === ContentType.applicationData);
      if (app) return app.data;
      const alert = r.plain.find((p) => p.type === ContentType.alert);
      if (alert) throw new AlertError(alert.data[1] as number);
    }
    throw new Error('no application data');
  }
}

export class AlertError extends Error {
  constructor(readonly description: number) {
    super(`alert ${description}`);
  }
}

export function handshakeOf(r: Received): HandshakeFragment[] {
  return r.plain.filter((p) => p.type === ContentType.handshake).flatMap((p) => parseHandshakeFragments(p.data));
}

export function alertsOf(r: Received): Array<{ level: number; description: number; epoch: number }> {
  return r.plain.filter((p) => p.type === ContentType.alert).map((p) => ({ level: p.data[0] as number, description: p.data[1] as number, epoch: p.epoch }));
}

function describe(r: Received): string {
  return r.plain.map((p) => `${p.type}/${p.epoch}:${p.data.toString('hex').slice(0, 16)}`).join(',');
}
