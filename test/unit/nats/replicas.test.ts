import { describe, expect, it } from 'vitest';
import { clusterReplicas, resolveReplicas } from '../../../src/nats/replicas.js';

describe('JetStream replicas', () => {
  it('is 1 on a single server and 3 in a cluster of three or more', () => {
    expect(clusterReplicas(undefined)).toBe(1);
    expect(clusterReplicas({ cluster: undefined, connect_urls: undefined })).toBe(1);
    expect(clusterReplicas({ cluster: 'dspex', connect_urls: ['a:4222', 'b:4222'] })).toBe(1);
    expect(clusterReplicas({ cluster: 'dspex', connect_urls: ['a:4222', 'b:4222', 'c:4222'] })).toBe(3);
    expect(clusterReplicas({ cluster: 'dspex', connect_urls: ['a:4222', 'a:4222', 'b:4222'] })).toBe(1);
    // A cluster that does not advertise its servers is taken for a production one.
    expect(clusterReplicas({ cluster: 'dspex', connect_urls: undefined })).toBe(3);
  });

  it('keeps a number the config gives', () => {
    expect(resolveReplicas(1, { cluster: 'dspex' } as never)).toBe(1);
    expect(resolveReplicas(5, undefined)).toBe(5);
    expect(resolveReplicas('auto', undefined)).toBe(1);
  });
});
