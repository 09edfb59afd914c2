import { describe, expect, it } from 'vitest';
import { parseNatsUrls } from '../../../src/nats/nats-url.js';

describe('parseNatsUrls', () => {
  it('splits a comma-separated list', () => {
    expect(parseNatsUrls('nats://a:4222, nats://b:4222,')).toEqual({
      servers: ['nats://a:4222', 'nats://b:4222'],
    });
  });

  it('lifts user and password out of the URLs', () => {
    expect(parseNatsUrls('nats://node:s%40cret@a:4222,nats://node:s%40cret@b:4222')).toEqual({
      servers: ['nats://a:4222', 'nats://b:4222'],
      user: 'node',
      pass: 's@cret',
    });
  });

  it('reads a bare secret as a token and accepts URLs without a scheme', () => {
    expect(parseNatsUrls('t0ken@127.0.0.1:4222')).toEqual({ servers: ['127.0.0.1:4222'], token: 't0ken' });
  });

  it('rejects lists whose URLs carry different credentials', () => {
    expect(() => parseNatsUrls('nats://a:1@h1:4222,nats://b:2@h2:4222')).toThrow(/different credentials/);
  });

  it('rejects an empty list, naming the flag', () => {
    expect(() => parseNatsUrls(' , ', 'DSPEX_NATS_URL')).toThrow(/^DSPEX_NATS_URL: /);
  });
});
