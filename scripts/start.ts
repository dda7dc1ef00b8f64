/**
 * `npm start`: the whole local stack in one command. Starts Azurite tables (on disk in .local/),
 * the Key Vault and Entra ID stand-ins (HTTPS from the local CA), creates missing tables, serves the
 * registered functions on http://localhost:7071/api/…, waits until /api/health answers, prints what
 * to do next, and stops everything on Ctrl-C. The ports come from the LOCAL_*_PORT settings and the
 * URLs follow them (scripts/local-settings.ts); a busy port or a dependency that does not answer stops
 * the start with a message naming the setting or the URL.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { loadConfig } from '../shared/core/config.ts';
import { setLogLevel } from '../shared/core/log.ts';
import { purgeExpired } from '../shared/ops/maintenance.ts';
import { ensureTables } from '../shared/storage/tables.ts';
import { setServices } from '../shared/web/runtime.ts';
import { createServices } from '../shared/web/services.ts';
import {
  DEMO_INTEGRATION_TITLE,
  demoApplicationInstructions,
  demoAppOrigin,
  demoInstructions,
  registerDemoFederatedCredential,
  seedDemo,
  seedDemoApplication,
} from './demo.ts';
import { loadApp, startLocalHost } from './host/local-host.ts';
import { checkDependencies, checkPortsFree, explainListenError, LocalStartError } from './local-checks.ts';
import { applyLocalSettings, type PortSetting } from './local-settings.ts';
import { noteNodeRuntime } from './node-runtime.ts';
import { supervisedAzuriteTables } from './standins/azurite.ts';
import { ensureLocalCa, repoRoot } from './standins/ca.ts';
import { DEMO_MANAGED_IDENTITY, demoTenant, startEntraStandIn } from './standins/entra.ts';
import { startKeyVaultStandIn } from './standins/keyvault.ts';

const ca = ensureLocalCa();

// Node reads NODE_EXTRA_CA_CERTS only at start-up: run ourselves again with it pointing at the
// system bundle plus the local CA (the only way the stand-ins' certificates are trusted).
if (process.env.NODE_EXTRA_CA_CERTS !== ca.bundlePath) {
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, NODE_EXTRA_CA_CERTS: ca.bundlePath },
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => child.kill(signal));
  child.on('exit', (code) => process.exit(code ?? 0));
} else {
  main().catch((err) => {
    const message = err instanceof Error ? err.message : String(err);
    console.error(
      err instanceof LocalStartError ? `npm start stopped:\n${message}` : `npm start failed: ${message}`,
    );
    process.exit(1);
  });
}

async function main() {
  const started = performance.now();
  noteNodeRuntime({ note: true });
  const { file, local, urlSources } = applyLocalSettings();
  // Where the stack keeps its data (Azurite, Key Vault stand-in, the demo app's registration).
  const dataDir = path.resolve(repoRoot, process.env.LOCAL_DATA_DIR || '.local');
  // The console shows requests and problems; audit events go to the AuditEvents table
  // (GET /api/manage/audit). BROKER_LOG_LEVEL=info prints every structured log line too.
  setLogLevel(process.env.BROKER_LOG_LEVEL === 'info' ? 'info' : 'warn');
  const config = loadConfig();
  const closers: (() => Promise<void>)[] = [];
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    console.log('\nStopping the local stack…');
    await Promise.allSettled(closers.reverse().map((c) => c()));
    process.exit(0);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);

  const ports: PortSetting[] = [
    'LOCAL_HOST_PORT',
    'LOCAL_AZURITE_TABLE_PORT',
    'LOCAL_KEYVAULT_PORT',
    'LOCAL_ENTRA_PORT',
  ];
  await checkPortsFree(local, ports, file);
  try {
    const [azurite, keyVault, entra] = await Promise.all([
      supervisedAzuriteTables({
        port: local.LOCAL_AZURITE_TABLE_PORT,
        location: path.join(dataDir, 'azurite'),
      }),
      startKeyVaultStandIn({
        port: local.LOCAL_KEYVAULT_PORT,
        stateFile: path.join(dataDir, 'keyvault', 'state.json'),
      }),
      startEntraStandIn({
        port: local.LOCAL_ENTRA_PORT,
        // As Entra: an assertion is taken until it expires (the broker reuses certificate assertions).
        refuseReplayedAssertions: false,
        tenants: [
          demoTenant({
            tenantId: local.DEMO_ENTRA_TENANT_ID,
            domain: local.DEMO_ENTRA_DOMAIN,
            clientId: local.DEMO_ENTRA_CLIENT_ID,
            clientSecret: local.DEMO_ENTRA_CLIENT_SECRET,
            expiredClientId: local.DEMO_ENTRA_EXPIRED_CLIENT_ID,
            expiredClientSecret: local.DEMO_ENTRA_EXPIRED_CLIENT_SECRET,
          }),
        ],
      }),
    ]);
    closers.push(azurite.close, keyVault.close, entra.close);
    await checkDependencies(
      [
        [
          'Table Storage',
          'BROKER_TABLE_ENDPOINT',
          config.BROKER_TABLE_ENDPOINT,
          'LOCAL_AZURITE_TABLE_PORT',
        ] as const,
        ['Key Vault', 'BROKER_KEY_VAULT_URI', config.BROKER_KEY_VAULT_URI, 'LOCAL_KEYVAULT_PORT'] as const,
        [
          'Entra ID',
          'BROKER_ENTRA_PUBLIC_AUTHORITY_HOST',
          process.env.BROKER_ENTRA_PUBLIC_AUTHORITY_HOST ?? entra.host,
          'LOCAL_ENTRA_PORT',
        ] as const,
      ].map(([what, setting, url, port]) => ({ what, setting, url, port, source: urlSources[setting] })),
      file,
    );
    // The Function App's managed identity, as App Service provides it: the stand-in's identity endpoint.
    process.env.IDENTITY_ENDPOINT = entra.managedIdentityEndpoint;
    process.env.IDENTITY_HEADER = entra.identityHeader;

    const services = createServices({
      ...config,
      AZURE_CLIENT_ID: config.AZURE_CLIENT_ID ?? DEMO_MANAGED_IDENTITY.clientId,
    });
    await ensureTables(services.tables);
    setServices(services);
    const routes = await loadApp();
    const host = await startLocalHost({
      routes,
      port: local.LOCAL_HOST_PORT,
      onRequest: ({ method, path: p, status, ms }) => console.log(`${method} ${p} → ${status} (${ms} ms)`),
    });
    // The services stop their timers and write the noise counts they hold.
    closers.push(() => services.shutdown(), host.close);
    // The local host serves HTTP only: run the maintenance timer function's work on the same schedule.
    const maintenance = setInterval(() => {
      purgeExpired(services.tables, services.clock, services.log).catch(() => {});
    }, 30 * 60_000);
    maintenance.unref();

    // Demo data when the store is empty (nothing is touched otherwise).
    let demo = '';
    try {
      const seed = await seedDemo(services, local, entra.host);
      if (seed) demo = `\n${demoInstructions(seed, config.BROKER_PUBLIC_BASE_URL)}\n`;
      else {
        // The stand-in forgets registrations when it stops: register the demo's federated credential again.
        const existing = await services.integrations.findByTitle(DEMO_INTEGRATION_TITLE);
        if (existing) await registerDemoFederatedCredential(entra.host, local.DEMO_ENTRA_TENANT_ID, existing);
        demo =
          '\nThe store already has data, so no demo data was seeded (demo passwords are printed only when they\n' +
          'are created). To start over: stop, `rm -rf .local/azurite .local/keyvault`, and run `npm start` again.\n';
      }
    } catch (err) {
      demo = `\nDemo data could not be seeded: ${err instanceof Error ? err.message : String(err)}\n`;
    }
    // The demo application (a client of the broker's OpenID Provider) when no application exists.
    try {
      const appFile = path.join(dataDir, 'demo-app.json');
      const seeded = await seedDemoApplication(services, appFile, demoAppOrigin(local.LOCAL_DEMO_APP_PORT));
      if (seeded) demo += `\n${demoApplicationInstructions(seeded, path.relative(repoRoot, appFile))}\n`;
    } catch (err) {
      demo += `\nThe demo application could not be seeded: ${err instanceof Error ? err.message : String(err)}\n`;
    }

    const health = await fetch(`${host.url}/api/health`);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`
Identity broker — local stack is up in ${seconds} s (health: ${health.status}). Settings: ${path.basename(file)}

  Broker (Functions)   ${host.url}/api/…   (${routes.length} functions)
  Health               ${host.url}/api/health
  Table Storage        ${azurite.endpoint}   (Azurite, data in ${path.relative(repoRoot, dataDir)}/azurite)
  Key Vault stand-in   ${keyVault.url}   (state in ${path.relative(repoRoot, dataDir)}/keyvault)
  Entra ID stand-in    ${entra.host}/${local.DEMO_ENTRA_TENANT_ID}/v2.0   (any account name, any password)
  Sign-in page         ${config.BROKER_PUBLIC_BASE_URL}/api/auth/login
${demo}
Your browser does not know the local CA of the stand-ins: accept its warning at ${entra.host} once,
or import .local/ca/ca.pem as a trusted authority (development only).

Admin console: ${host.url}/api/admin (sign in as an admin user). On an empty store, make the first one:
  npm run bootstrap-admin -- --name me --user YOURNAME   (an API token and an admin user, both shown once)
  curl -H "Authorization: Bearer <token>" ${host.url}/api/manage/tokens

Ctrl-C stops everything.`);
  } catch (err) {
    await Promise.allSettled(closers.map((c) => c()));
    throw explainListenError(err, local, ports, file);
  }
}
