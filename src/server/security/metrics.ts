/**
 * Prometheus metrics of the DTLS listeners, read from the DTLS server's counters at scrape time:
 * `lwm2m_dtls_sessions{listener}`, `lwm2m_dtls_handshakes_total{listener,outcome}` (completed, failed,
 * rejected by the handshake limits) and `lwm2m_dtls_records_dropped_total{listener}`.
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/** What the metrics read (a DtlsServerSocket's `stats()` has these and more). */
export interface DtlsListenerStats {
  stats(): {
    sessions: number;
    handshakesCompleted: number;
    handshakesFailed: number;
    handshakesRejected: number;
    recordsDropped: number;
  };
}

export function registerDtlsMetrics(registry: Registry, listeners: Readonly<Record<string, DtlsListenerStats | undefined>>): void {
  const present = Object.entries(listeners).filter((e): e is [string, DtlsListenerStats] => e[1] !== undefined);
  if (present.length === 0) return;
  const registers = [registry];
  new Gauge({
    name: 'lwm2m_dtls_sessions', help: 'Established DTLS sessions, by listener.', labelNames: ['listener'], registers,
    collect() {
      for (const [listener, s] of present) this.set({ listener }, s.stats().sessions);
    },
  });
  new Counter({
    name: 'lwm2m_dtls_handshakes_total', help: 'DTLS handshakes by listener and outcome (completed, failed, rejected by the limits).',
    labelNames: ['listener', 'outcome'], registers,
    collect() {
      this.reset();
      for (const [listener, s] of present) {
        const st = s.stats();
        this.inc({ listener, outcome: 'completed' }, st.handshakesCompleted);
        this.inc({ listener, outcome: 'failed' }, st.handshakesFailed);
        this.inc({ listener, outcome: 'rejected' }, st.handshakesRejected);
      }
    },
  });
  new Counter({
    name: 'lwm2m_dtls_records_dropped_total', help: 'DTLS records discarded (malformed, replayed, failed authentication), by listener.',
    labelNames: ['listener'], registers,
    collect() {
      this.reset();
      for (const [listener, s] of present) this.inc({ listener }, s.stats().recordsDropped);
    },
  });
}
