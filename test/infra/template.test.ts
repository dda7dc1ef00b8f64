/**
 * Assertions on the compiled ARM template of infra/main.bicep (.local/bicep/main.json).
 * The template is (re)compiled and linted by scripts/bicep.sh when the JSON is missing or older than
 * any file under infra/, so a fresh clone tests what it has; the script fails on any lint diagnostic.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { configSchema, requiredSettingNames } from '../../shared/core/config.ts';
import { TABLE_NAMES } from '../../shared/storage/tables.ts';

const root = path.resolve(import.meta.dirname, '..', '..');
const infraDir = path.join(root, 'infra');
const compiledPath = path.join(root, '.local', 'bicep', 'main.json');

type Json = Record<string, unknown>;
interface ArmTemplate extends Json {
  parameters?: Record<string, Json>;
  outputs?: Record<string, Json>;
  resources: Json[] | Record<string, Json>;
}
interface Resource extends Json {
  type: string;
  name: string;
  properties?: Json;
}
interface Located {
  /** The deployment path: 'main', 'main/api', ... */
  at: string;
  /** Symbolic name (language version 2.0 templates) or the resource's name expression. */
  key: string;
  resource: Resource;
  template: ArmTemplate;
}

/** App settings the template may set beyond the config schema's required ones, each for a reason. */
const ALLOWED_EXTRA_SETTINGS = [
  // Functions host storage over the managed identity (no connection string).
  'AzureWebJobsStorage__credential',
  'AzureWebJobsStorage__clientId',
  'AzureWebJobsStorage__blobServiceUri',
  'AzureWebJobsStorage__queueServiceUri',
  'AzureWebJobsStorage__tableServiceUri',
  // Telemetry with Entra ID auth (local auth is disabled on the component).
  'APPLICATIONINSIGHTS_CONNECTION_STRING',
  'APPLICATIONINSIGHTS_AUTHENTICATION_STRING',
  // Optional schema settings with production values.
  'AZURE_CLIENT_ID',
  'BROKER_PRODUCT_NAME',
];

/** Optional schema settings that must never reach a deployment (local stack only). */
const FORBIDDEN_SETTINGS = ['BROKER_DEV_CREDENTIALS', 'BROKER_ENTRA_PUBLIC_AUTHORITY_HOST'];

/** Required settings the template does not set: a non-empty answer fails the deployment-coverage test. */
function missingRequiredSettings(appSettingNames: string[], required: string[]): string[] {
  return required.filter((name) => !appSettingNames.includes(name));
}

/** Settings the template sets that are neither required by the schema nor an allowed extra. */
function unexpectedSettings(appSettingNames: string[], required: string[]): string[] {
  return appSettingNames.filter((name) => !required.includes(name) && !ALLOWED_EXTRA_SETTINGS.includes(name));
}

function infraFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? infraFiles(path.join(dir, e.name)) : [path.join(dir, e.name)],
  );
}

function compiledIsStale(): boolean {
  if (!existsSync(compiledPath)) return true;
  const built = statSync(compiledPath).mtimeMs;
  return infraFiles(infraDir).some((f) => statSync(f).mtimeMs > built);
}

function resourcesOf(template: ArmTemplate): [string, Resource][] {
  const res = template.resources;
  if (Array.isArray(res)) return res.map((r) => [String(r.name), r as Resource]);
  return Object.entries(res) as [string, Resource][];
}

/** Every resource the template and its nested module deployments create (`existing` references left out). */
function walk(template: ArmTemplate, at = 'main'): Located[] {
  return resourcesOf(template).flatMap(([key, resource]) => {
    if (resource.existing === true) return [];
    const here: Located = { at, key, resource, template };
    if (resource.type !== 'Microsoft.Resources/deployments') return [here];
    const nested = (resource.properties as { template: ArmTemplate }).template;
    const name = String(resource.name);
    return [here, ...walk(nested, `${at}/${name}`)];
  });
}

function templatesOf(template: ArmTemplate, at = 'main'): { at: string; template: ArmTemplate }[] {
  return [
    { at, template },
    ...resourcesOf(template)
      .filter(([, r]) => r.type === 'Microsoft.Resources/deployments')
      .flatMap(([, r]) =>
        templatesOf((r.properties as { template: ArmTemplate }).template, `${at}/${r.name}`),
      ),
  ];
}

let main: ArmTemplate;
let text: string;
let all: Located[];

const ofType = (type: string) => all.filter((l) => l.resource.type === type);
const single = (type: string) => {
  const found = ofType(type);
  expect(found, type).toHaveLength(1);
  return found[0]!;
};
const props = (l: Located) => l.resource.properties as Json;

beforeAll(() => {
  if (compiledIsStale()) {
    // Obtains the Bicep CLI (NuGet) when needed, builds and lints; throws with the diagnostics on failure.
    execFileSync('bash', [path.join(root, 'scripts', 'bicep.sh')], { cwd: root, stdio: 'pipe' });
  }
  text = readFileSync(compiledPath, 'utf8');
  main = JSON.parse(text) as ArmTemplate;
  all = walk(main);
}, 300_000);

describe('infra/main.bicep (compiled ARM)', () => {
  it('is a subscription-scope template that creates rg-<env> with the azd tags', () => {
    expect(String(main.$schema)).toContain('subscriptionDeploymentTemplate.json');
    const rg = single('Microsoft.Resources/resourceGroups');
    expect(rg.at).toBe('main');
    expect(rg.resource.name).toContain("variables('abbrs').resourcesResourceGroups");
    const vars = main.variables as Json;
    expect(vars.tags).toEqual({ 'azd-env-name': "[parameters('environmentName')]" });
    expect(String(vars.resourceToken)).toBe(
      "[toLower(uniqueString(subscription().id, parameters('environmentName'), parameters('location')))]",
    );
  });

  it('uses only local modules (no registry references) under infra/', () => {
    for (const file of infraFiles(infraDir).filter((f) => f.endsWith('.bicep'))) {
      const source = readFileSync(file, 'utf8');
      expect(source, file).not.toMatch(/['"]br[:/]/);
      expect(source, file).not.toMatch(/['"]ts[:/]/);
      expect(source, file).toMatch(/^metadata description = /m);
    }
  });

  it('runs on a Flex Consumption (FC1) Linux plan', () => {
    const plan = single('Microsoft.Web/serverfarms');
    expect(plan.resource.sku).toEqual({ name: 'FC1', tier: 'FlexConsumption' });
    expect(props(plan).reserved).toBe(true);
  });

  it('has a Function App on Node 22 that deploys from a blob container with its user-assigned identity', () => {
    const site = single('Microsoft.Web/sites');
    const p = props(site) as {
      httpsOnly: boolean;
      siteConfig: Json;
      functionAppConfig: {
        deployment: { storage: { type: string; value: string; authentication: Json } };
        scaleAndConcurrency: Json;
        runtime: Json;
      };
    };
    expect(site.resource.kind).toBe('functionapp,linux');
    expect(p.httpsOnly).toBe(true);
    expect(p.siteConfig).toMatchObject({ minTlsVersion: '1.2', ftpsState: 'Disabled' });
    expect(p.functionAppConfig.runtime).toEqual({ name: 'node', version: '22' });

    const identity = site.resource.identity as { type: string; userAssignedIdentities: Json };
    expect(identity.type).toBe('UserAssigned');
    expect(Object.keys(identity.userAssignedIdentities).join()).toContain(
      'Microsoft.ManagedIdentity/userAssignedIdentities',
    );

    const storage = p.functionAppConfig.deployment.storage;
    expect(storage.type).toBe('blobContainer');
    expect(storage.value).toContain('primaryEndpoints.blob');
    expect(storage.value).toContain("parameters('deploymentContainerName')");
    expect(storage.authentication.type).toBe('UserAssignedIdentity');
    expect(String(storage.authentication.userAssignedIdentityResourceId)).toContain(
      "resourceId('Microsoft.ManagedIdentity/userAssignedIdentities'",
    );
    // The container exists: the storage module creates it from the same variable.
    const storageModule = all.find((l) => l.at === 'main' && l.resource.name === 'storage')!;
    const moduleParams = (storageModule.resource.properties as { parameters: Record<string, Json> })
      .parameters;
    expect(moduleParams.containerNames!.value).toEqual(["[variables('deploymentContainerName')]"]);
    const container = single('Microsoft.Storage/storageAccounts/blobServices/containers');
    expect(props(container).publicAccess).toBe('None');

    // Basic-auth publishing (FTP and SCM) is off.
    const policies = ofType('Microsoft.Web/sites/basicPublishingCredentialsPolicies');
    expect(policies.map((l) => props(l).allow)).toEqual([false, false]);
  });

  it('takes instance memory and maximum instance count as parameters, passed through from main', () => {
    const site = single('Microsoft.Web/sites');
    const scale = (props(site).functionAppConfig as { scaleAndConcurrency: Json }).scaleAndConcurrency;
    expect(scale).toEqual({
      instanceMemoryMB: "[parameters('instanceMemoryMB')]",
      maximumInstanceCount: "[parameters('maximumInstanceCount')]",
    });
    const api = all.find((l) => l.at === 'main' && l.resource.name === 'api')!;
    const passed = (api.resource.properties as { parameters: Record<string, Json> }).parameters;
    expect(passed.instanceMemoryMB!.value).toBe("[parameters('instanceMemoryMB')]");
    expect(passed.maximumInstanceCount!.value).toBe("[parameters('maximumInstanceCount')]");
    expect(main.parameters!.instanceMemoryMB).toMatchObject({ type: 'int', defaultValue: 2048 });
    expect(main.parameters!.maximumInstanceCount).toMatchObject({ type: 'int', defaultValue: 100 });
    // azd finds the app by this tag.
    expect(String(passed.tags!.value)).toContain("createObject('azd-service-name', 'api')");
  });

  it('has a storage account reachable with Entra ID only', () => {
    const storage = single('Microsoft.Storage/storageAccounts');
    expect(props(storage)).toMatchObject({
      allowSharedKeyAccess: false,
      allowBlobPublicAccess: false,
      minimumTlsVersion: 'TLS1_2',
      supportsHttpsTrafficOnly: true,
      defaultToOAuthAuthentication: true,
    });
  });

  it('creates exactly the tables the broker uses (shared/storage/tables.ts)', () => {
    const storageModule = ofType('Microsoft.Resources/deployments').find((l) =>
      JSON.stringify(l.resource.properties).includes('"tableNames"'),
    );
    expect(storageModule).toBeDefined();
    const params = (storageModule!.resource.properties as { parameters: Record<string, { value: unknown }> })
      .parameters;
    expect([...((params.tableNames?.value ?? []) as string[])].sort()).toEqual(
      Object.values(TABLE_NAMES).sort(),
    );
    expect(ofType('Microsoft.Storage/storageAccounts/tableServices/tables').length).toBeGreaterThan(0);
  });

  it('has a Key Vault with RBAC, soft delete, purge protection, standard SKU and parameterized network access', () => {
    const vault = single('Microsoft.KeyVault/vaults');
    expect(props(vault)).toMatchObject({
      enableRbacAuthorization: true,
      enableSoftDelete: true,
      enablePurgeProtection: true,
      softDeleteRetentionInDays: "[parameters('softDeleteRetentionInDays')]",
      publicNetworkAccess: "[parameters('publicNetworkAccess')]",
      sku: { family: 'A', name: 'standard' },
    });
    expect(main.parameters!.keyVaultSoftDeleteRetentionInDays).toMatchObject({ defaultValue: 90 });
    expect(main.parameters!.keyVaultPublicNetworkAccess).toMatchObject({
      defaultValue: 'Enabled',
      allowedValues: ['Enabled', 'Disabled'],
    });
  });

  it('has Log Analytics and Application Insights with local authentication disabled', () => {
    const appi = single('Microsoft.Insights/components');
    expect(props(appi).DisableLocalAuth).toBe(true);
    expect(String(props(appi).WorkspaceResourceId)).toContain('Microsoft.OperationalInsights/workspaces');
    const log = single('Microsoft.OperationalInsights/workspaces');
    expect((props(log).features as Json).disableLocalAuth).toBe(true);
  });

  describe('role assignments', () => {
    const role = {
      blobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
      tableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
      queueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
      secretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7',
      metricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
    };
    const scopes = {
      storage: "resourceId('Microsoft.Storage/storageAccounts', parameters('storageAccountName'))",
      vault: "resourceId('Microsoft.KeyVault/vaults', parameters('keyVaultName'))",
      appi: "resourceId('Microsoft.Insights/components', parameters('applicationInsightsName'))",
    };
    const roleDefinition = (id: string) =>
      `subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '${id}')`;
    const expected = [
      { roleId: role.blobDataOwner, scope: scopes.storage, principal: 'identityPrincipalId' },
      { roleId: role.tableDataContributor, scope: scopes.storage, principal: 'identityPrincipalId' },
      { roleId: role.secretsOfficer, scope: scopes.vault, principal: 'identityPrincipalId' },
      { roleId: role.metricsPublisher, scope: scopes.appi, principal: 'identityPrincipalId' },
      { roleId: role.tableDataContributor, scope: scopes.storage, principal: 'userPrincipalId' },
      { roleId: role.secretsOfficer, scope: scopes.vault, principal: 'userPrincipalId' },
    ];

    it('are exactly the least-privilege set, each named guid(scope, principal, role)', () => {
      const found = ofType('Microsoft.Authorization/roleAssignments');
      expect(found).toHaveLength(expected.length);
      for (const want of expected) {
        const match = found.filter(
          (l) =>
            props(l).roleDefinitionId === `[${roleDefinition(want.roleId)}]` &&
            props(l).principalId === `[parameters('${want.principal}')]`,
        );
        expect(match, `${want.roleId} for ${want.principal}`).toHaveLength(1);
        const ra = match[0]!.resource;
        expect(ra.scope).toBe(`[${want.scope}]`);
        expect(ra.name).toBe(
          `[guid(${want.scope}, parameters('${want.principal}'), ${roleDefinition(want.roleId)})]`,
        );
      }
    });

    it("give the app's identity principalType ServicePrincipal and its principal id from the identity module", () => {
      const app = ofType('Microsoft.Authorization/roleAssignments').filter(
        (l) => props(l).principalId === "[parameters('identityPrincipalId')]",
      );
      expect(app).toHaveLength(4);
      for (const l of app) {
        expect(props(l).principalType).toBe('ServicePrincipal');
        expect(l.resource.condition).toBeUndefined();
      }
      const rbac = all.find((l) => l.at === 'main' && l.resource.name === 'rbac')!;
      const passed = (rbac.resource.properties as { parameters: Record<string, Json> }).parameters;
      expect(passed.identityPrincipalId!.value).toBe("[reference('identity').outputs.principalId.value]");
    });

    it("grant the deploying user's roles only when principalId is set (default empty)", () => {
      expect(main.parameters!.principalId).toMatchObject({ type: 'string', defaultValue: '' });
      const user = ofType('Microsoft.Authorization/roleAssignments').filter(
        (l) => props(l).principalId === "[parameters('userPrincipalId')]",
      );
      expect(user).toHaveLength(2);
      for (const l of user) expect(l.resource.condition).toBe("[not(empty(parameters('userPrincipalId')))]");
    });

    it('include no queue role: the broker has HTTP triggers only', () => {
      expect(text).not.toContain(role.queueDataContributor);
    });
  });

  describe('app settings', () => {
    const appSettings = () => {
      const config = single('Microsoft.Web/sites/config');
      expect(config.resource.name).toContain("'appsettings'");
      return props(config) as Record<string, string>;
    };

    it("set exactly the config schema's required settings plus the allowed extras", () => {
      const names = Object.keys(appSettings());
      const required = requiredSettingNames();
      expect(required.length).toBeGreaterThan(0);
      expect(missingRequiredSettings(names, required)).toEqual([]);
      expect(unexpectedSettings(names, required)).toEqual([]);
    });

    it('would fail if the schema gained a required setting the template does not set', () => {
      const names = Object.keys(appSettings());
      const grown = [...requiredSettingNames(), 'BROKER_SOMETHING_NEW'];
      expect(missingRequiredSettings(names, grown)).toEqual(['BROKER_SOMETHING_NEW']);
    });

    it('name every broker setting exactly as the schema does and never set the local-only ones', () => {
      const schemaNames = Object.keys(configSchema.shape);
      const settings = appSettings();
      for (const name of Object.keys(settings).filter(
        (n) => n.startsWith('BROKER_') || n.startsWith('AZURE_'),
      )) {
        expect(schemaNames, name).toContain(name);
      }
      for (const name of FORBIDDEN_SETTINGS) expect(settings).not.toHaveProperty(name);
      for (const name of ALLOWED_EXTRA_SETTINGS.filter((n) => schemaNames.includes(n))) {
        expect(requiredSettingNames()).not.toContain(name);
      }
    });

    it('compute the broker settings from the deployed resources', () => {
      const s = appSettings();
      expect(s.BROKER_PUBLIC_BASE_URL).toBe(
        "[format('https://{0}', reference('functionApp').defaultHostName)]",
      );
      expect(s.BROKER_TABLE_ENDPOINT).toBe(
        "[__bicep.withoutTrailingSlash(reference('storage').primaryEndpoints.table)]",
      );
      expect(s.BROKER_KEY_VAULT_URI).toBe("[__bicep.withoutTrailingSlash(reference('vault').vaultUri)]");
      expect(s.AZURE_CLIENT_ID).toBe("[reference('identity').clientId]");
    });

    it('connect the Functions host and telemetry with the managed identity', () => {
      const s = appSettings();
      expect(s).toMatchObject({
        AzureWebJobsStorage__credential: 'managedidentity',
        AzureWebJobsStorage__clientId: "[reference('identity').clientId]",
        AzureWebJobsStorage__blobServiceUri: "[reference('storage').primaryEndpoints.blob]",
        AzureWebJobsStorage__queueServiceUri: "[reference('storage').primaryEndpoints.queue]",
        AzureWebJobsStorage__tableServiceUri: "[reference('storage').primaryEndpoints.table]",
        APPLICATIONINSIGHTS_AUTHENTICATION_STRING:
          "[format('ClientId={0};Authorization=AAD', reference('identity').clientId)]",
      });
      expect(s).not.toHaveProperty('AzureWebJobsStorage');
      expect(s).not.toHaveProperty('WEBSITE_RUN_FROM_PACKAGE');
      expect(s).not.toHaveProperty('FUNCTIONS_WORKER_RUNTIME'); // Flex takes it from functionAppConfig
      for (const [name, value] of Object.entries(s)) {
        expect(value, name).not.toMatch(/AccountKey=|SharedAccessSignature|sig=|InstrumentationKey=/i);
      }
    });
  });

  describe('secrets', () => {
    it('has no listKeys (or any list*) call anywhere', () => {
      expect(text).not.toMatch(/\blist[A-Z]?\w*\(/);
      expect(text.toLowerCase()).not.toContain('listkeys');
    });

    it('has no secure parameters and no output whose name or value looks secret', () => {
      const secretName = /password|secret|connection_?string|token|sas\b|(^|_)key$|accountkey|apikey/i;
      const secretValue =
        /ConnectionString|listKeys|list\w*\(|secret|InstrumentationKey|parameters\('[^']*password/i;
      for (const { at, template } of templatesOf(main)) {
        for (const [name, param] of Object.entries(template.parameters ?? {})) {
          expect(String(param.type).toLowerCase(), `${at} param ${name}`).not.toMatch(/^secure/);
        }
        for (const [name, output] of Object.entries(template.outputs ?? {})) {
          expect(name, `${at} output ${name}`).not.toMatch(secretName);
          expect(String(output.value), `${at} output ${name}`).not.toMatch(secretValue);
        }
      }
    });
  });

  it('describes every parameter and output of every template, and names every module', () => {
    for (const { at, template } of templatesOf(main)) {
      const meta = template.metadata as Json;
      expect(meta.name, `${at} metadata name`).toBeTruthy();
      expect(meta.description, `${at} metadata description`).toBeTruthy();
      for (const [name, param] of Object.entries(template.parameters ?? {})) {
        expect((param.metadata as Json | undefined)?.description, `${at} param ${name}`).toBeTruthy();
      }
      for (const [name, output] of Object.entries(template.outputs ?? {})) {
        expect((output.metadata as Json | undefined)?.description, `${at} output ${name}`).toBeTruthy();
      }
    }
  });

  it('outputs the base URL, the Entra callback URL, the vault URI and the resource names', () => {
    const outputs = main.outputs!;
    expect(outputs.BROKER_PUBLIC_BASE_URL!.value).toBe("[reference('api').outputs.baseUrl.value]");
    expect(outputs.BROKER_CALLBACK_URL!.value).toBe(
      "[format('{0}/api/auth/callback', reference('api').outputs.baseUrl.value)]",
    );
    expect(String(outputs.BROKER_KEY_VAULT_URI!.value)).toContain("reference('keyVault').outputs.uri.value");
    for (const name of [
      'AZURE_LOCATION',
      'AZURE_TENANT_ID',
      'AZURE_RESOURCE_GROUP',
      'AZURE_FUNCTION_APP_NAME',
      'AZURE_STORAGE_ACCOUNT_NAME',
      'AZURE_KEY_VAULT_NAME',
      'BROKER_TABLE_ENDPOINT',
    ]) {
      expect(outputs, name).toHaveProperty(name);
    }
  });

  it('has parameters files and azure.yaml wired for azd', () => {
    const parameters = JSON.parse(readFileSync(path.join(infraDir, 'main.parameters.json'), 'utf8')) as {
      parameters: Record<string, { value: string }>;
    };
    expect(parameters.parameters.environmentName!.value).toMatch(/^\$\{AZURE_ENV_NAME\}$/);
    expect(parameters.parameters.location!.value).toMatch(/^\$\{AZURE_LOCATION\}$/);
    expect(parameters.parameters.principalId!.value).toMatch(/^\$\{AZURE_PRINCIPAL_ID/);
    for (const name of Object.keys(parameters.parameters)) expect(main.parameters, name).toHaveProperty(name);
    const azureYaml = readFileSync(path.join(root, 'azure.yaml'), 'utf8');
    expect(azureYaml).toMatch(/^ {2}api:\n {4}project: \.\n {4}language: ts\n {4}host: function\n/m);
    expect(azureYaml).toMatch(/^ {4}dist: dist\/package\/app$/m);
    expect(azureYaml).toMatch(/^ {4}remoteBuild: false$/m);
  });
});
