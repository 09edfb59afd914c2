import { describe, expect, it } from 'vitest';
import { parseNatsUrls, urlWithCredentials } from '../../../src/cli/nats-url.js';

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

describe('urlWithCredentials', () => {
  it('puts encoded credentials back into the first URL', () => {
    expect(urlWithCredentials({ servers: ['nats://a:4222', 'nats://b:4222'], user: 'w', pass: 'p@ss' })).toBe(
      'nats://w:p%40ss@a:4222',
    );
    expect(urlWithCredentials({ servers: ['a:4222'], token: 'tok' })).toBe('nats://tok@a:4222');
    expect(urlWithCredentials({ servers: ['nats://a:4222'] })).toBe('nats://a:4222');
  });

  it('round-trips through parseNatsUrls', () => {
    const target = { servers: ['nats://a:4222'], user: 'u:x', pass: 'p/q' };
    expect(parseNatsUrls(urlWithCredentials(target))).toEqual(target);
  });
});
