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
