import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadConfigFile } from '../../../src/cli/node-config.js';
import { resolveConfig } from '../../../src/runtime/config.js';

describe('examples/node.config.json', () => {
  it('is a valid runtime config with the general, optimizer and neural pools', async () => {
    const path = fileURLToPath(new URL('../../../examples/node.config.json', import.meta.url));
    const config = resolveConfig(await loadConfigFile(path));
    expect(Object.keys(config.pools)).toEqual(['general', 'optimizer', 'neural']);
    // Sized for a 2-core host: three local worker processes, the neural pool served by other hosts.
    expect(Object.values(config.pools).reduce((n, p) => n + p.size, 0)).toBe(3);
  });
});

describe('examples/pools.seed.json', () => {
  it("is the seed's three pools: general 8, optimizer 2, neural 4 with a device each", async () => {
    const path = fileURLToPath(new URL('../../../examples/pools.seed.json', import.meta.url));
    const config = resolveConfig(await loadConfigFile(path));
    expect(Object.fromEntries(Object.entries(config.pools).map(([name, p]) => [name, p.size]))).toEqual({
      general: 8,
      optimizer: 2,
      neural: 4,
    });
    expect(config.pools.neural!.devices).toHaveLength(4);
    expect(config.pools.neural!.concurrency).toBe(1);
  });
});
