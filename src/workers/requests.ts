/**
 * Requests to workers whose replies are verified before they are believed. nats.js `request()`
 * resolves with the first message on the inbox, so whoever answers first wins; here every request
 * has its own reply subject under one muxed subscription, and a reply that does not verify (see
 * {@link WorkerIdentity}) is counted, logged and ignored while the request keeps waiting for the
 * genuine one until its timeout. Without a worker secret the first reply wins, as with `request()`.
 */
import {
  createInbox,
  NoRespondersError,
  RequestError,
  TimeoutError,
  type Msg,
  type NatsConnection,
  type Payload,
  type RequestOptions,
  type Subscription,
} from '@nats-io/nats-core';
import type { WorkerIdentity } from './identity.js';

/** Options of one request: nats.js's, plus the worker the request is addressed to. */
export interface WorkerRequestOptions extends Pick<RequestOptions, 'timeout' | 'headers'> {
  /** The worker that must have signed the reply; unset for a pool's queue group (any worker). */
  worker?: string;
}

/** What the dispatcher and the optimizer call workers with. */
export interface WorkerRequester {
  request(subject: string, payload: Payload, options: WorkerRequestOptions): Promise<Msg>;
}

interface Pending {
  reply: string;
  worker: string | undefined;
  subject: string;
  timer: NodeJS.Timeout;
  resolve(msg: Msg): void;
  reject(error: Error): void;
}

/** {@link WorkerRequester} over one connection's muxed inbox. */
export class WorkerRequests implements WorkerRequester {
  private sub: Subscription | undefined;
  private base = '';
  private next = 0;
  private readonly pending = new Map<string, Pending>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly identity: WorkerIdentity,
    /** The connection's inbox prefix (its replies must arrive where its role may subscribe). */
    private readonly inboxPrefix: string,
  ) {}

  request(subject: string, payload: Payload, options: WorkerRequestOptions): Promise<Msg> {
    this.ensureSubscribed();
    const token = (this.next++).toString(36);
    const reply = `${this.base}.${token}`;
    return new Promise<Msg>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(token);
        reject(new RequestError(`timeout waiting for a reply on ${subject}`, { cause: new TimeoutError() }));
      }, options.timeout);
      this.pending.set(token, { reply, worker: options.worker, subject, timer, resolve, reject });
      try {
        this.nc.publish(subject, payload, { reply, headers: options.headers });
      } catch (error) {
        this.settle(token);
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  /** Requests waiting for a reply (tests, status). */
  get size(): number {
    return this.pending.size;
  }

  private ensureSubscribed(): void {
    if (this.sub !== undefined) return;
    this.base = createInbox(this.inboxPrefix);
    const sub = this.nc.subscribe(`${this.base}.*`, {
      callback: (err, msg) => {
        if (err !== null) this.failAll(err);
        else this.onMessage(msg);
      },
    });
    this.sub = sub;
    void sub.closed.then(
      () => this.failAll(new RequestError('connection closed')),
      (error: unknown) => this.failAll(error instanceof Error ? error : new Error(String(error))),
    );
  }

  private onMessage(msg: Msg): void {
    const token = msg.subject.slice(this.base.length + 1);
    const p = this.pending.get(token);
    if (p === undefined) return; // late, or a second answer to a settled request
    if (msg.data.length === 0 && msg.headers?.code === 503) {
      // The server's "no responders" status: nobody, not even a rogue, received the request.
      this.settle(token);
      p.reject(new RequestError(`no responders: ${p.subject}`, { cause: new NoRespondersError(p.subject) }));
      return;
    }
    const reason = this.identity.checkReply(p.reply, msg, p.worker);
    if (reason !== undefined) {
      this.identity.rejected('reply', reason, p.subject, p.worker ?? msg.headers?.get('Dspex-Worker'));
      return; // keep waiting for the genuine reply
    }
    this.settle(token);
    p.resolve(msg);
  }

  private settle(token: string): void {
    const p = this.pending.get(token);
    if (p === undefined) return;
    clearTimeout(p.timer);
    this.pending.delete(token);
  }

  private failAll(error: Error): void {
    for (const [token, p] of [...this.pending]) {
      this.settle(token);
      p.reject(error);
    }
    this.sub = undefined;
  }
}
