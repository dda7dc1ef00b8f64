/** The import-graph check: the layers of shared/ (docs/architecture.md "Layers and the import rule"). */
import { describe, expect, it } from 'vitest';
import { checkLayers, findCycles, importsOf, repoGraph } from '../helpers/import-graph.ts';

describe('import graph', () => {
  const graph = repoGraph();

  it('reads the whole of shared/ and functions/', () => {
    expect(graph.size).toBeGreaterThan(60);
    expect([...graph.values()].flat()).toContain('@azure/functions');
  });

  it('imports only from its own layer or a lower one; @azure/functions only in functions/ and the web layer', () => {
    expect(checkLayers(graph)).toEqual([]);
  });

  it('has no import cycle', () => {
    expect(findCycles(graph)).toEqual([]);
  });

  it('the check finds an upward import, a Functions type below the web layer and a cycle', () => {
    const bad = new Map<string, string[]>([
      ['shared/signin/a.ts', ['shared/web/endpoint.ts', '@azure/functions']],
      ['shared/core/b.ts', ['shared/users/c.ts']],
      ['shared/users/c.ts', ['shared/users/d.ts']],
      ['shared/users/d.ts', ['shared/users/c.ts']],
      ['shared/web/endpoint.ts', ['shared/users/c.ts', '@azure/functions']],
      ['shared/nowhere/e.ts', []],
    ]);
    const found = checkLayers(bad).map((v) => `${v.from} ${v.why}`);
    expect(found).toEqual([
      'shared/signin/a.ts imports upwards',
      'shared/signin/a.ts below the web layer',
      'shared/core/b.ts imports upwards',
      'shared/nowhere/e.ts nowhere belongs to no layer (add it to the layer table)',
    ]);
    expect(findCycles(bad)).toEqual([['shared/users/c.ts', 'shared/users/d.ts']]);
  });

  it('reads static, re-exported, type-only and dynamic imports', () => {
    const src = [
      "import type { A } from '../web/a.ts';",
      "import { B,\n  C } from '../core/b.ts';",
      "export { D } from './d.ts';",
      "const e = await import('../storage/e.ts');",
      "import x from 'jose';",
    ].join('\n');
    expect(importsOf('shared/signin/x.ts', src)).toEqual([
      'shared/web/a.ts',
      'shared/core/b.ts',
      'shared/signin/d.ts',
      'shared/storage/e.ts',
      'jose',
    ]);
  });
});
