/**
 * The node's HTTP observability endpoint (node:http, no framework): `/metrics` in the Prometheus
 * exposition format, `/healthz` (the process is up) and `/readyz` (an injected readiness check).
 * Embedders mount {@link metricsHandler} on their own server instead.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, type Registry } from 'prom-client';

/** One named check of a readiness report. */
export interface ReadinessCheck {
  ok: boolean;
  detail?: string;
}

/** What `/readyz` answers: ready when every check is ok. */
export interface Readiness {
  ready: boolean;
  checks: Record<string, ReadinessCheck>;
}

/**
 * Adds Node's process metrics (`process_cpu_*`, `process_resident_memory_bytes`, `nodejs_eventloop_lag_*`,
 * `nodejs_heap_*`, GC, handles...) to `registry`, once: calling it again on the same registry does nothing.
 */
export function enableProcessMetrics(registry: Registry): void {
  if (registry.getSingleMetric('process_cpu_user_seconds_total') !== undefined) return;
  collectDefaultMetrics({ register: registry });
}

/**
 * A request handler that answers with `registry`'s metrics; it fits node:http, express and connect
 * as is (`app.get('/metrics', metricsHandler(rt.metrics.registry))`), and fastify with
 * `app.get('/metrics', (req, reply) => { reply.hijack(); metricsHandler(registry)(req.raw, reply.raw); })`.
 */
export function metricsHandler(registry: Registry): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    registry.metrics().then(
      (body) => send(res, 200, registry.contentType, req.method === 'HEAD' ? '' : body),
      (error: unknown) => send(res, 500, 'text/plain; charset=utf-8', `metrics failed: ${String(error)}\n`),
    );
  };
}

export interface ObservabilityServerOptions {
  registry: Registry;
  /** TCP port; 0 picks a free one (read it from `port`). @default 0 */
  port?: number;
  /** Address to listen on; `0.0.0.0` to be scraped from other hosts. @default '127.0.0.1' */
  host?: string;
  /** The `/readyz` check. @default always ready */
  ready?: () => Readiness | Promise<Readiness>;
  /** Export Node's process metrics on `registry` ({@link enableProcessMetrics}). @default true */
  processMetrics?: boolean;
}

export interface ObservabilityServer extends AsyncDisposable {
  readonly port: number;
  /** `http://host:port`. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves `/metrics`, `/healthz` and `/readyz` until closed.
 *
 * @example
 * ```ts
 * await using http = await startObservabilityServer({ registry: rt.metrics.registry, port: 9464, ready: nodeReadiness(rt) });
 * ```
 */
export async function startObservabilityServer(
  options: ObservabilityServerOptions,
): Promise<ObservabilityServer> {
  if (options.processMetrics ?? true) enableProcessMetrics(options.registry);
  const metrics = metricsHandler(options.registry);
  const ready = options.ready ?? (() => ({ ready: true, checks: {} }));
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
      return;
    }
    switch (path) {
      case '/metrics':
        metrics(req, res);
        return;
      case '/healthz':
        send(res, 200, 'application/json', JSON.stringify({ status: 'ok' }));
        return;
      case '/readyz':
        Promise.resolve()
          .then(ready)
          .then(
            (r) => send(res, r.ready ? 200 : 503, 'application/json', JSON.stringify(r)),
            (error: unknown) =>
              send(
                res,
                503,
                'application/json',
                JSON.stringify({ ready: false, checks: { readiness: { ok: false, detail: String(error) } } }),
              ),
          );
        return;
      default:
        send(res, 404, 'text/plain; charset=utf-8', 'not found: try /metrics, /healthz or /readyz\n');
    }
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return {
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close,
    [Symbol.asyncDispose]: close,
  };
}

function send(res: ServerResponse, status: number, contentType: string, body: string): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'Content-Type': contentType, 'Cache-Control': 'no-store' });
  res.end(body);
}
