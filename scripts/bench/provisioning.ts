/**
 * `npm run bench:provisioning [-- --users N] [--json FILE]`: a provisioning cycle as Entra's
 * provisioning service runs it, over HTTP against the real app (local host) on Azurite behind the
 * counting Table proxy (scripts/standins/table-proxy.ts) and the Key Vault stand-in, all started here
 * on free ports (loopback only; stops by itself):
 *   - initial cycle: for each of 1,000 users the lookup Entra makes first (`userName eq`, finding
 *     nothing) and the create; then 50 groups (lookup + create) and their members, 100 per group, in
 *     one PATCH each (each user ends up in 5 groups, one of them mapped to a role);
 *   - incremental cycle: 10 users changed (lookup + PATCH), then 20, so the cost per change shows it
 *     does not grow with the 1,000 users already there;
 *   - deactivation: one `active: false` PATCH (sessions and tokens revoked), pinned as Table requests.
 * Prints the time and the Table requests (at the proxy) per user, per group, per membership and per
 * change. Entra works with a few requests in flight; the bench uses 8.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { loadConfig } from '../../shared/core/config.ts';
import { setLogSink } from '../../shared/core/log.ts';
import { createAzureCredential } from '../../shared/secrets/client.ts';
import { createTables, ensureTables } from '../../shared/storage/tables.ts';
import { runWithServices } from '../../shared/web/runtime.ts';
import { createServices } from '../../shared/web/services.ts';
import { loadApp, startLocalHost } from '../host/local-host.ts';
import { freePort, startAzuriteTables } from '../standins/azurite.ts';
import { ensureLocalCa } from '../standins/ca.ts';
import { startKeyVaultStandIn } from '../standins/keyvault.ts';
import { startTableProxy } from '../standins/table-proxy.ts';
import { pool } from './flows.ts';

const flag = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const USERS = Number(flag('--users') ?? 1000);
const GROUPS = Math.max(1, Math.round(USERS / 20));
const MEMBERS_PER_GROUP = Math.min(100, USERS);
const CONCURRENCY = 8;
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

interface Phase {
  name: string;
  items: number;
  seconds: number;
  requests: number;
  perItem: number;
}

async function main() {
  setLogSink(() => {});
  const azurite = await startAzuriteTables({ port: await freePort() });
  const keyVault = await startKeyVaultStandIn();
  const proxy = await startTableProxy({ target: azurite.endpoint });
  const port = await freePort();
  const env = {
    BROKER_PUBLIC_BASE_URL: `http://localhost:${port}`,
    BROKER_TABLE_ENDPOINT: proxy.endpoint,
    BROKER_KEY_VAULT_URI: keyVault.url,
    BROKER_DEV_CREDENTIALS: 'true',
    // A shared, loaded machine: Azurite's queue may hold a request for seconds (as in the tests).
    BROKER_DEPENDENCY_TIMEOUT_MS: '15000',
  };
  const config = loadConfig(env);
  const services = createServices(config, { tables: createTables(config, createAzureCredential(config)) });
  await ensureTables(services.tables);
  const host = await startLocalHost({
    routes: await loadApp(),
    port,
    around: (invoke) => runWithServices(services, invoke),
  });
  try {
    const integration = await services.integrations.create(
      {
        kind: 'azure-ad',
        title: 'Bench provisioning',
        applicationId: randomUUID(),
        tenant: randomUUID(),
        clientSecret: 'bench-secret',
        cloud: 'public',
        matchClaim: 'preferred_username',
      },
      'bench',
      {},
    );
    const { secretToken } = await services.provisioning.settings.enable(
      integration.id,
      { groupRoles: { 'group-0': 'staff' } },
      'bench',
      {},
    );
    let retried = 0;
    const call = async (
      method: string,
      path: string,
      body?: unknown,
    ): Promise<{ id: string } & Record<string, unknown>> => {
      const res = await fetch(`${host.url}/api/scim/v2${path}`, {
        method,
        headers: {
          authorization: `Bearer ${secretToken}`,
          ...(body ? { 'content-type': 'application/scim+json' } : {}),
        },
        ...(body ? { body: JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      // Entra retries a 503 (Retry-After) later; so does the bench, and counts it.
      if (res.status === 503 && retried < 100) {
        retried++;
        await new Promise((r) => setTimeout(r, 1000));
        return call(method, path, body);
      }
      if (res.status >= 400) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 200)}`);
      return text ? JSON.parse(text) : { id: '' };
    };
    const q = (filter: string) => `?filter=${encodeURIComponent(filter)}`;
    const phases: Phase[] = [];
    const measure = async (name: string, items: number, work: () => Promise<void>) => {
      await proxy.idle(200);
      const before = proxy.total;
      const t = performance.now();
      await work();
      const seconds = (performance.now() - t) / 1000;
      await proxy.idle(200);
      const requests = proxy.total - before;
      phases.push({ name, items, seconds, requests, perItem: requests / items });
    };

    const ids: string[] = new Array(USERS);
    await measure(`create ${USERS} users (lookup + POST)`, USERS, () =>
      pool(USERS, CONCURRENCY, async (i) => {
        const userName = `user${i}@contoso.example`;
        await call('GET', `/Users${q(`userName eq "${userName}"`)}`);
        const made = await call('POST', '/Users', {
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
          userName,
          externalId: randomUUID(),
          active: true,
          displayName: `User ${i}`,
          emails: [{ primary: true, type: 'work', value: userName }],
          name: { givenName: 'User', familyName: String(i) },
        });
        ids[i] = made.id;
      }),
    );
    const groupIds: string[] = new Array(GROUPS);
    await measure(`create ${GROUPS} groups (lookup + POST)`, GROUPS, () =>
      pool(GROUPS, CONCURRENCY, async (g) => {
        await call('GET', `/Groups${q(`displayName eq "group-${g}"`)}&excludedAttributes=members`);
        groupIds[g] = (await call('POST', '/Groups', { displayName: `group-${g}` })).id;
      }),
    );
    const memberships = GROUPS * MEMBERS_PER_GROUP;
    await measure(`add ${memberships} memberships (${MEMBERS_PER_GROUP} per PATCH)`, memberships, () =>
      pool(GROUPS, CONCURRENCY, async (g) => {
        const members = Array.from({ length: MEMBERS_PER_GROUP }, (_, k) => ({
          value: ids[(g * 20 + k) % USERS],
        }));
        await call('PATCH', `/Groups/${groupIds[g]}`, {
          schemas: [PATCH_OP],
          Operations: [{ op: 'Add', path: 'members', value: members }],
        });
      }),
    );
    for (const changes of [10, 20]) {
      await measure(`incremental: ${changes} users changed (lookup + PATCH)`, changes, () =>
        pool(changes, CONCURRENCY, async (k) => {
          const i = (k * 37) % USERS;
          await call('GET', `/Users${q(`userName eq "user${i}@contoso.example"`)}`);
          await call('PATCH', `/Users/${ids[i]}`, {
            schemas: [PATCH_OP],
            Operations: [
              { op: 'Replace', path: 'displayName', value: `Changed ${k}` },
              { op: 'Replace', path: 'name.familyName', value: `F${k}` },
            ],
          });
        }),
      );
    }
    await measure('deactivate one user (active: false, sessions and tokens revoked)', 1, async () => {
      await call('PATCH', `/Users/${ids[1]}`, {
        schemas: [PATCH_OP],
        Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
      });
    });

    console.log(
      `\nProvisioning cycle: ${USERS} users, ${GROUPS} groups of ${MEMBERS_PER_GROUP}, ${CONCURRENCY} requests in flight`,
    );
    for (const p of phases) {
      console.log(
        `${p.name.padEnd(66)} ${p.seconds.toFixed(1).padStart(7)} s  ${String(p.requests).padStart(7)} Table requests  ${p.perItem.toFixed(1).padStart(6)} per item`,
      );
    }
    const initial = phases.slice(0, 3);
    const total = initial.reduce((a, p) => a + p.seconds, 0);
    const requests = initial.reduce((a, p) => a + p.requests, 0);
    console.log(
      `initial cycle: ${total.toFixed(1)} s, ${requests} Table requests, ${(requests / USERS).toFixed(1)} per user; ${retried} request(s) retried after a 503`,
    );
    const jsonFile = flag('--json');
    if (jsonFile)
      writeFileSync(jsonFile, `${JSON.stringify({ users: USERS, groups: GROUPS, phases }, null, 2)}\n`);
  } finally {
    await host.close();
    await proxy.close();
    await keyVault.close();
    await azurite.close();
  }
}

const ca = ensureLocalCa();
if (process.env.NODE_EXTRA_CA_CERTS !== ca.bundlePath) {
  // Node reads NODE_EXTRA_CA_CERTS only at start-up (the Key Vault stand-in's TLS): run again.
  const child = spawn(process.execPath, [...process.execArgv, ...process.argv.slice(1)], {
    stdio: 'inherit',
    env: { ...process.env, NODE_EXTRA_CA_CERTS: ca.bundlePath },
  });
  child.on('exit', (code) => process.exit(code ?? 1));
} else {
  main().then(
    () => process.exit(0),
    (err) => {
      console.error(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exit(1);
    },
  );
}
