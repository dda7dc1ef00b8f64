/**
 * The deployable bundle (npm run build) registers every function the sources register, as the
 * Functions host sees it: through `@azure/functions-core.registerFunction`.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { build, bundlePath } from '../../scripts/build.ts';
import { repoRoot } from '../../scripts/standins/ca.ts';
import { appRoutes } from '../helpers/stack.ts';

describe('esbuild bundle', () => {
  beforeAll(async () => {
    await build({ quiet: true });
  }, 120_000);

  it('is what package.json main names', async () => {
    const pkg = (await import('../../package.json', { with: { type: 'json' } })).default;
    expect(path.resolve(repoRoot, pkg.main)).toBe(bundlePath);
  });

  it('registers every function with the host, with the same routes and methods', async () => {
    const loader = `
      const Module = require('node:module');
      const original = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (request === '@azure/functions-core') return ${JSON.stringify(path.join(repoRoot, 'scripts/host/functions-core.cjs'))};
        return original.call(this, request, ...rest);
      };
      require(${JSON.stringify(bundlePath)});
      const out = globalThis.__brokerFunctionRegistrations.map(({ metadata }) => {
        const t = Object.values(metadata.bindings).find((b) => /Trigger$/.test(b.type));
        return t.type === 'httpTrigger'
          ? { name: metadata.name, route: t.route, methods: t.methods, authLevel: t.authLevel }
          : { name: metadata.name, type: t.type, schedule: t.schedule };
      });
      process.stdout.write(JSON.stringify(out));
    `;
    // Run from outside the repo so nothing but the bundle can be resolved.
    const out = execFileSync(process.execPath, ['-e', loader], {
      cwd: '/',
      env: { PATH: process.env.PATH ?? '' },
    });
    const all = JSON.parse(String(out)) as {
      name: string;
      route?: string;
      type?: string;
      schedule?: string;
    }[];
    expect(all.filter((r) => r.type)).toEqual([
      { name: 'maintenance-purge', type: 'timerTrigger', schedule: '0 */30 * * * *' },
    ]);
    const registered = all.filter((r) => !r.type);
    const expected = (await appRoutes()).map((r) => ({
      name: r.name,
      route: r.route,
      methods: r.methods,
      authLevel: r.authLevel,
    }));
    expect(registered.length).toBeGreaterThan(0);
    expect(registered.sort((a, b) => a.name.localeCompare(b.name))).toEqual(
      expected.sort((a, b) => a.name.localeCompare(b.name)),
    );
  });
});
