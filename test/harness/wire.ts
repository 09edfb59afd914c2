import { headers as natsHeaders, type NatsConnection } from '@nats-io/nats-core';
import { decode, Encoding } from '../../src/protocol/codec.js';

/** A decoded reply: an error body, or any other map. */
export interface Reply {
  error?: { code: string; message: string; details?: Record<string, unknown> };
  [key: string]: unknown;
}

/** Sends a JSON request to a public endpoint, as any NATS client would; status 0 means success. */
export async function callJson(
  nc: NatsConnection,
  subject: string,
  body: unknown,
): Promise<{ status: number; body: Reply }> {
  const h = natsHeaders();
  h.set('Content-Type', 'application/json');
  const msg = await nc.request(subject, JSON.stringify(body), { timeout: 30_000, headers: h });
  return {
    status: Number(msg.headers?.get('Nats-Service-Error-Code') || 0),
    body: decode(msg.data, Encoding.Json) as Reply,
  };
}
