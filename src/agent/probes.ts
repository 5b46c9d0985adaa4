/**
 * Container probes as kubelet runs them. A ProbeRunner probes one running container for one
 * kind (liveness, readiness, startup) on the injected clock: first after initialDelaySeconds,
 * then every periodSeconds; the result flips to failure after failureThreshold consecutive
 * failures and to success after successThreshold consecutive successes. Liveness and
 * readiness wait until the startup probe (if any) has succeeded.
 *
 * Actions: exec (runtime.execSync in the container), httpGet (against the pod IP unless
 * `host` is set; 200..399 is success), tcpSocket (a connection that opens), grpc (the
 * standard health service answering SERVING).
 */
import * as grpc from '@grpc/grpc-js';
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import type { Container, IntOrString, Probe } from '../api/index.ts';
import type { Clock, TimerHandle } from './clock.ts';
import type { Runtime } from './runtimes/types.ts';

export type ProbeKind = 'liveness' | 'readiness' | 'startup';
export type ProbeResult = 'success' | 'failure' | 'unknown';

export interface ProbeOutcome {
  ok: boolean;
  message?: string;
}

export interface ProbeTarget {
  containerId: string;
  container: Container;
  podIP: string;
}

/** Runs one probe action once. */
export interface ProbeExecutor {
  run(probe: Probe, target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome>;
}

function resolvePort(port: IntOrString, c: Container): number | undefined {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  return c.ports?.find((p) => p.name === port)?.containerPort;
}

/** The real executor: runtime exec, HTTP, TCP and gRPC health over the network. */
export class NetworkProbeExecutor implements ProbeExecutor {
  constructor(private readonly runtime: Runtime) {}

  async run(probe: Probe, t: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome> {
    if (probe.exec) {
      const cmd = probe.exec.command ?? [];
      if (cmd.length === 0) return { ok: false, message: 'exec probe has no command' };
      try {
        const r = await this.runtime.execSync(t.containerId, cmd, Math.max(1, Math.ceil(timeoutMs / 1000)));
        if (r.timedOut) return { ok: false, message: `command timed out after ${Math.round(timeoutMs / 1000)}s` };
        if (r.exitCode === 0) return { ok: true };
        const out = (r.stdout + r.stderr).trim().slice(0, 1024);
        return { ok: false, message: out || `command exited with ${r.exitCode}` };
      } catch (e) {
        return { ok: false, message: (e as Error).message };
      }
    }
    if (probe.httpGet) {
      const g = probe.httpGet;
      const port = resolvePort(g.port, t.container);
      if (!port) return { ok: false, message: `port ${String(g.port)} not found` };
      return httpProbe(g.scheme === 'HTTPS', g.host || t.podIP, port, g.path || '/', g.httpHeaders ?? [], timeoutMs);
    }
    if (probe.tcpSocket) {
      const port = resolvePort(probe.tcpSocket.port, t.container);
      if (!port) return { ok: false, message: `port ${String(probe.tcpSocket.port)} not found` };
      return tcpProbe(probe.tcpSocket.host || t.podIP, port, timeoutMs);
    }
    if (probe.grpc) return grpcProbe(t.podIP, probe.grpc.port, probe.grpc.service ?? '', timeoutMs);
    return { ok: false, message: 'probe has no action' };
  }
}

function hostForUrl(h: string): string {
  return h.includes(':') && !h.startsWith('[') ? `[${h}]` : h;
}

function httpProbe(tls: boolean, host: string, port: number, path: string, headers: { name: string; value: string }[], timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const hdrs: Record<string, string> = { 'User-Agent': 'berth-probe/1.0', Accept: '*/*' };
    for (const h of headers) if (h?.name) hdrs[h.name] = h.value ?? '';
    let settled = false;
    const done = (o: ProbeOutcome) => {
      if (!settled) {
        settled = true;
        resolve(o);
      }
    };
    try {
      const url = `${tls ? 'https' : 'http'}://${hostForUrl(host)}:${port}${path.startsWith('/') ? path : '/' + path}`;
      const mod = tls ? https : http;
      const req = mod.get(url, { headers: hdrs, timeout: timeoutMs, rejectUnauthorized: false, agent: false } as https.RequestOptions, (res) => {
        const code = res.statusCode ?? 0;
        res.resume(); // the body is not looked at
        res.on('error', () => undefined);
        if (code >= 200 && code < 400) done({ ok: true });
        else done({ ok: false, message: `HTTP probe failed with statuscode: ${code}` });
      });
      req.on('timeout', () => {
        req.destroy();
        done({ ok: false, message: `Get "${url}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)` });
      });
      req.on('error', (e) => done({ ok: false, message: `Get "${url}": ${e.message}` }));
    } catch (e) {
      done({ ok: false, message: (e as Error).message });
    }
  });
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const t = setTimeout(() => {
      sock.destroy();
      resolve({ ok: false, message: `dial tcp ${host}:${port}: i/o timeout` });
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(t);
      sock.destroy();
      resolve({ ok: true });
    });
    sock.once('error', (e) => {
      clearTimeout(t);
      resolve({ ok: false, message: `dial tcp ${host}:${port}: ${e.message}` });
    });
  });
}

/** grpc.health.v1.Health/Check with hand-encoded messages (field 1: service / status). */
function grpcProbe(host: string, port: number, service: string, timeoutMs: number): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    const client = new grpc.Client(`${hostForUrl(host)}:${port}`, grpc.credentials.createInsecure(), { 'grpc.enable_channelz': 0 });
    const svc = Buffer.from(service, 'utf8');
    const req = svc.length ? Buffer.concat([Buffer.from([0x0a]), varint(svc.length), svc]) : Buffer.alloc(0);
    client.makeUnaryRequest<Buffer, number>(
      '/grpc.health.v1.Health/Check',
      (b) => b,
      (buf) => {
        // HealthCheckResponse { ServingStatus status = 1; } — SERVING is 1.
        let i = 0;
        while (i < buf.length) {
          const key = buf[i++]!;
          if (key === 0x08) return buf[i] ?? 0;
          if ((key & 7) === 0) while (i < buf.length && buf[i++]! & 0x80);
          else break;
        }
        return 0;
      },
      req,
      { deadline: new Date(Date.now() + timeoutMs) },
      (err, status) => {
        client.close();
        if (err) resolve({ ok: false, message: `rpc error: code = ${grpc.status[err.code]} desc = ${err.details}` });
        else if (status === 1) resolve({ ok: true });
        else resolve({ ok: false, message: `service unhealthy (responded with "${['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'][status ?? 0] ?? status}")` });
      },
    );
  });
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

export interface ProbeRunnerOptions {
  kind: ProbeKind;
  probe: Probe;
  target: ProbeTarget;
  /** When the container started (ms): initialDelaySeconds counts from here. */
  startedAt: number;
  clock: Clock;
  executor: ProbeExecutor;
  /** Liveness/readiness: probe only once this says the container has started. */
  gate?: () => boolean;
  /** Called when the result changes. */
  onChange: (result: ProbeResult, message: string | undefined) => void;
}

/** Probes one container for one kind until stopped. */
export class ProbeRunner {
  /** Readiness starts as failure, liveness as success (kubelet); startup as unknown. */
  result: ProbeResult;
  message: string | undefined;
  private successes = 0;
  private failures = 0;
  private timer: TimerHandle | undefined;
  private stopped = false;
  private readonly periodMs: number;
  private readonly timeoutMs: number;
  private readonly failureThreshold: number;
  private readonly successThreshold: number;

  constructor(private readonly o: ProbeRunnerOptions) {
    this.result = o.kind === 'readiness' ? 'failure' : o.kind === 'liveness' ? 'success' : 'unknown';
    const p = o.probe;
    this.periodMs = Math.max(1, num(p.periodSeconds, 10)) * 1000;
    this.timeoutMs = Math.max(1, num(p.timeoutSeconds, 1)) * 1000;
    this.failureThreshold = Math.max(1, num(p.failureThreshold, 3));
    // Liveness and startup must use 1 (validation says so); enforce rather than trust.
    this.successThreshold = o.kind === 'readiness' ? Math.max(1, num(p.successThreshold, 1)) : 1;
    const first = o.startedAt + Math.max(0, num(p.initialDelaySeconds, 0)) * 1000;
    this.schedule(Math.max(0, first - o.clock.now()));
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.o.clock.setTimeout(() => void this.tick(), ms);
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    if (this.stopped) return;
    if (this.o.gate && !this.o.gate()) {
      this.schedule(this.periodMs);
      return;
    }
    let outcome: ProbeOutcome;
    try {
      outcome = await this.o.executor.run(this.o.probe, this.o.target, this.timeoutMs);
    } catch (e) {
      outcome = { ok: false, message: (e as Error).message };
    }
    if (this.stopped) return;
    if (outcome.ok) {
      this.failures = 0;
      this.successes++;
      if (this.result !== 'success' && this.successes >= this.successThreshold) this.set('success', undefined);
    } else {
      this.successes = 0;
      this.failures++;
      if (this.result !== 'failure' && this.failures >= this.failureThreshold) this.set('failure', outcome.message);
      else if (this.result === 'failure') this.message = outcome.message;
    }
    // A startup probe is done once it succeeded; a failed liveness/startup probe gets the
    // container killed, which stops this runner.
    if (this.o.kind === 'startup' && this.result === 'success') return;
    this.schedule(this.periodMs);
  }

  private set(r: ProbeResult, message: string | undefined): void {
    this.result = r;
    this.message = message;
    this.o.onChange(r, message);
  }

  stop(): void {
    this.stopped = true;
    this.o.clock.clearTimeout(this.timer);
    this.timer = undefined;
  }
}

function num(v: unknown, dflt: number): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : dflt;
}
