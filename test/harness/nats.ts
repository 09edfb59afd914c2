import { createServer } from 'node:net';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, type NatsServer, type NatsServerOptions } from '../../src/nats/nats-server.js';

export type { NatsServer };

/** Starts a real `nats-server` with JetStream on a free loopback port: `await using srv = await startNats()`. */
export function startNats(options: NatsServerOptions = {}): Promise<NatsServer> {
  return startNatsServer(options);
}

/** A cluster of `size` real servers with JetStream, routed to each other. */
export interface NatsCluster extends AsyncDisposable {
  readonly servers: NatsServer[];
  readonly urls: string[];
  stop(): Promise<void>;
}

export async function startCluster(size = 3, name = 'dspex-test'): Promise<NatsCluster> {
  // A JetStream cluster needs its routes configured up front, so cluster ports are chosen first.
  const ports = await Promise.all(Array.from({ length: size }, () => freePort()));
  const routes = ports.map((p) => `nats-route://127.0.0.1:${p}`);
  const servers = await Promise.all(
    ports.map((port, i) =>
      startNatsServer({
        name: `${name}-${i}`,
        cluster: { name, port, routes: routes.filter((_, j) => j !== i) },
      }),
    ),
  );
  const stop = async (): Promise<void> => {
    await Promise.all(servers.map((s) => s.stop()));
  };
  return { servers, urls: servers.map((s) => s.url), stop, [Symbol.asyncDispose]: stop };
}

/** A client connection that closes on dispose: `await using nc = await client(srv.url)`. */
export async function client(url: string | string[]): Promise<NatsConnection & AsyncDisposable> {
  const nc = await connect({ servers: url });
  return Object.assign(nc, { [Symbol.asyncDispose]: () => nc.close() });
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      srv.close(() => resolve(port));
    });
  });
}
