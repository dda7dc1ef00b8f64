/**
 * The build trims the bundle (scripts/build.ts): MSAL, @azure/identity (using that one MSAL), the
 * OpenAPI generator and oidc-provider live in files of their own loaded on first use, msal-node gets
 * no jsonwebtoken, @azure/data-tables gets no XML parser, the SDK pipeline no proxy agents, zod no
 * locales. These tests run what those changes touch
 * from code built with the same options, against the suite's Azurite and Entra stand-in and an
 * App Service-style managed identity endpoint.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import * as esbuild from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  appBundlePath,
  build,
  buildLazyVendors,
  bundleOptions,
  bundlePath,
  LAZY_VENDOR_FILES,
  sizeByPackage,
} from '../../scripts/build.ts';
import { repoRoot } from '../../scripts/standins/ca.ts';
import { DEMO_ENTRA } from '../../scripts/standins/entra.ts';
import { stack, uniquePrefix } from '../helpers/stack.ts';

const run = promisify(execFile);
const CLIENT_ID = '0d2c6a1e-5b4f-4e3a-9c8d-7f6e5d4c3b2a';

describe('the trimmed bundle', () => {
  let dir: string;
  let msi: Server;
  const msiRequests: { url: string; header: string | undefined }[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'bundle-probe-'));
    await esbuild.build({
      ...bundleOptions({ quiet: true }),
      entryPoints: [path.join(repoRoot, 'test/fixtures/bundle-probe.ts')],
      outfile: path.join(dir, 'probe.cjs'),
    });
    // The files the probe loads on first use (@azure/identity, MSAL), as next to the bundle.
    await buildLazyVendors(dir, { quiet: true });
    // The App Service / Functions managed identity endpoint (api-version 2019-08-01).
    msi = createServer((req, res) => {
      msiRequests.push({
        url: req.url ?? '',
        header: req.headers['x-identity-header'] as string | undefined,
      });
      res.setHeader('Content-Type', 'application/json');
      res.end(
        JSON.stringify({
          access_token: 'msi-token-from-the-platform',
          expires_on: String(Math.floor(Date.now() / 1000) + 3600),
          resource: 'https://vault.azure.net',
          token_type: 'Bearer',
          client_id: CLIENT_ID,
        }),
      );
    });
    await new Promise<void>((resolve) => msi.listen(0, '127.0.0.1', resolve));
  }, 120_000);

  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await new Promise((resolve) => msi.close(resolve));
  });

  it('gets a managed identity token, reads and writes tables, and talks to Entra with a secret', async () => {
    const port = (msi.address() as AddressInfo).port;
    const { stdout } = await run(process.execPath, [path.join(dir, 'probe.cjs')], {
      cwd: dir,
      env: {
        PATH: process.env.PATH ?? '',
        NODE_EXTRA_CA_CERTS: process.env.NODE_EXTRA_CA_CERTS ?? '',
        IDENTITY_ENDPOINT: `http://127.0.0.1:${port}/msi/token`,
        IDENTITY_HEADER: 'platform-header-value',
        PROBE_CLIENT_ID: CLIENT_ID,
        PROBE_TABLE_ENDPOINT: stack().tableEndpoint,
        PROBE_TABLE_PREFIX: uniquePrefix(),
        PROBE_ENTRA_HOST: stack().entraHost,
        PROBE_APP_ID: DEMO_ENTRA.clientId,
        PROBE_APP_SECRET: DEMO_ENTRA.clientSecret,
        PROBE_TENANT: DEMO_ENTRA.tenantId,
      },
    });
    expect(JSON.parse(stdout)).toEqual({
      identityLoadedAtStart: false,
      identityLoadedAfterToken: true,
      credentialIsManagedIdentity: true,
      managedIdentityToken: 'msi-token-from-the-platform',
      tableRead: 'x',
      tableMissing: 404,
      clientCredentials: true,
      wrongSecret: 'wrong_secret',
      proxy: expect.stringContaining('HTTP proxies are not supported by this build'),
    });
    expect(msiRequests.length).toBeGreaterThan(0);
    const asked = new URL(msiRequests.at(-1)?.url ?? '', 'http://x');
    expect(asked.searchParams.get('client_id')).toBe(CLIENT_ID);
    expect(asked.searchParams.get('resource')).toBe('https://vault.azure.net');
    expect(msiRequests.at(-1)?.header).toBe('platform-header-value');
  });

  it('holds one MSAL, no zod locales, no jsonwebtoken or XML parser, and keeps the lazy packages out', async () => {
    const { metafile } = await build({ quiet: true });
    const inputs = Object.keys(metafile.inputs);
    // MSAL and @azure/identity are not in main.cjs or app.cjs; identity's file uses MSAL's.
    expect(inputs.filter((f) => /node_modules\/@azure\/(msal-|identity\/)/.test(f))).toEqual([]);
    const identityFile = path.join(path.dirname(bundlePath), LAZY_VENDOR_FILES['@azure/identity'] ?? '');
    expect(readFileSync(identityFile, 'utf8')).toContain(
      `require("./${LAZY_VENDOR_FILES['@azure/msal-node']}")`,
    );
    const msalFile = path.join(path.dirname(bundlePath), LAZY_VENDOR_FILES['@azure/msal-node'] ?? '');
    expect(readFileSync(msalFile, 'utf8')).toContain(
      'certificate credentials are not supported by this build',
    );
    expect(inputs.filter((f) => /zod\/v4\/locales\/(?!en\.js)/.test(f))).toEqual([]);
    expect(
      inputs.filter((f) =>
        /node_modules\/(jsonwebtoken|fast-xml-parser|@asteasolutions|https?-proxy-agent|agent-base|debug)\//.test(
          f,
        ),
      ),
    ).toEqual([]);
    expect(sizeByPackage(metafile)).not.toContain('zod-to-openapi');
    // The lazy vendor files are required by the app's code (app.cjs), itself loaded on first use.
    const bundle = readFileSync(appBundlePath, 'utf8');
    for (const file of Object.values(LAZY_VENDOR_FILES)) {
      // Loaded by path at first use (a require, or an import() for ESM-only packages).
      const loaded = bundle.includes(`require("./${file}")`) || bundle.includes(`import("./${file}")`);
      expect(loaded, file).toBe(true);
    }
  }, 120_000);

  it('loads the OpenAPI generator from its own file when first asked', async () => {
    const file = path.join(
      path.dirname(bundlePath),
      LAZY_VENDOR_FILES['@asteasolutions/zod-to-openapi'] ?? '',
    );
    const { stdout } = await run(
      process.execPath,
      [
        '-e',
        `const m = require(${JSON.stringify(file)}); process.stdout.write(typeof m.OpenApiGeneratorV31 + typeof m.OpenAPIRegistry)`,
      ],
      { cwd: '/' },
    );
    expect(stdout).toBe('functionfunction');
  });
});
