/**
 * A runtime node's NATS connection: to the configured servers, or to a private `nats-server` it
 * starts (JetStream in a temp dir) when none is configured. Reconnects forever: a node outlives
 * server restarts.
 */
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { natsConnectionOptions, NatsRole, type NatsAuth } from './nats-connect.js';
import { explainConnectError } from './first-run.js';
import { startNatsServer, type NatsServer } from './nats-server.js';

/** The `nats` option of a node: server URL(s) plus how to log in. */
export type NodeNatsOptions = NatsAuth & { servers?: string | string[] | undefined };

export interface NodeConnection {
  nc: NatsConnection;
  /** The URL(s) the node connected to (the private server's when it started one). */
  servers: string[];
  /** Credentials, TLS and inbox prefix of the connection (local workers derive theirs from it). */
  auth: NatsAuth;
  /** The private server, when the node started one; stop it after draining `nc`. */
  server: NatsServer | undefined;
}

/** Connects a node as the `node` role of nats.conf, starting a private server if `nats` is unset. */
export async function connectNode(
  nats: NodeNatsOptions | undefined,
  nodeId: string,
  logger: Logger,
): Promise<NodeConnection> {
  let server: NatsServer | undefined;
  if (nats === undefined) {
    server = await startNatsServer();
    logger.info({ url: server.url }, 'started a private nats-server');
  }
  const { servers: given, ...auth } = nats ?? { servers: [] };
  const servers = server !== undefined ? [server.url] : [given ?? []].flat();
  try {
    const nc = await connect({
      ...natsConnectionOptions(servers, auth, NatsRole.Node, `dspex-node-${nodeId}`),
      maxReconnectAttempts: -1,
    });
    return { nc, servers, auth, server };
  } catch (error) {
    await server?.stop();
    throw explainConnectError(error, servers, auth, 'node');
  }
}
