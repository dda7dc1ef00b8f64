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
/** The parameters main passes to one of its modules. */
const moduleParams = (name: string) => {
  const found = all.find((l) => l.at === 'main' && l.resource.name === name);
  expect(found, `module ${name}`).toBeDefined();
  return (found!.resource.properties as { parameters: Record<string, Json> }).parameters;
};

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
      alwaysReady:
        "[if(greater(parameters('alwaysReadyInstanceCount'), 0), createArray(createObject('name', 'http', 'instanceCount', parameters('alwaysReadyInstanceCount'))), createArray())]",
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
    // Public access follows private networking (vnetEnabled), for the vault and storage alike.
    expect(main.parameters).not.toHaveProperty('keyVaultPublicNetworkAccess');
    const passed = moduleParams('keyVault');
    expect(passed.publicNetworkAccess!.value).toBe("[variables('publicNetworkAccess')]");
    expect((main.variables as Json).publicNetworkAccess).toBe(
      "[if(and(parameters('vnetEnabled'), empty(parameters('allowedIpAddresses'))), 'Disabled', 'Enabled')]",
    );
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
      cryptoOfficer: '14b46e9e-c2b7-41b4-b07b-48a6ebf60603',
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
      // Certificate credentials: keys created, used to sign and deleted inside the vault.
      { roleId: role.cryptoOfficer, scope: scopes.vault, principal: 'identityPrincipalId' },
      { roleId: role.metricsPublisher, scope: scopes.appi, principal: 'identityPrincipalId' },
      // The deployer: only what bootstrap-admin needs (an admin token and its audit event in tables).
      { roleId: role.tableDataContributor, scope: scopes.storage, principal: 'userPrincipalId' },
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
      expect(app).toHaveLength(5);
      for (const l of app) {
        expect(props(l).principalType).toBe('ServicePrincipal');
        expect(l.resource.condition).toBeUndefined();
      }
      const rbac = all.find((l) => l.at === 'main' && l.resource.name === 'rbac')!;
      const passed = (rbac.resource.properties as { parameters: Record<string, Json> }).parameters;
      expect(passed.identityPrincipalId!.value).toBe("[reference('identity').outputs.principalId.value]");
    });

    it('grant the deployer (deployer() by default, any principal type) table access only while grantDeployerTableAccess is on', () => {
      expect(main.parameters!.principalId).toMatchObject({
        type: 'string',
        defaultValue: '[deployer().objectId]',
      });
      expect(main.parameters).not.toHaveProperty('principalType');
      expect(main.parameters!.grantDeployerTableAccess).toMatchObject({ type: 'bool', defaultValue: true });
      expect(moduleParams('rbac').userPrincipalId).toBe(
        "[if(parameters('grantDeployerTableAccess'), createObject('value', parameters('principalId')), createObject('value', ''))]",
      );
      const user = ofType('Microsoft.Authorization/roleAssignments').filter(
        (l) => props(l).principalId === "[parameters('userPrincipalId')]",
      );
      expect(user).toHaveLength(1);
      for (const l of user) {
        expect(l.resource.condition).toBe("[not(empty(parameters('userPrincipalId')))]");
        // No principalType: a pipeline's service principal must not fail with UnmatchedPrincipalType.
        expect(props(l)).not.toHaveProperty('principalType');
      }
      expect(text).not.toContain(`'${role.secretsOfficer}'), parameters('userPrincipalId')`);
    });

    it('include no queue role: the broker has HTTP triggers and a timer, neither uses queues', () => {
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
      // The custom domain when set, else the default host: the OIDC issuer and redirect URIs follow it.
      expect(s.BROKER_PUBLIC_BASE_URL).toBe(
        "[if(empty(parameters('customDomain')), format('https://{0}', reference('functionApp').defaultHostName), format('https://{0}', parameters('customDomain')))]",
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
    // principalId is left to its deployer() default: whoever deploys, user or pipeline.
    expect(parameters.parameters).not.toHaveProperty('principalId');
    expect(parameters.parameters).not.toHaveProperty('principalType');
    for (const name of Object.keys(parameters.parameters)) expect(main.parameters, name).toHaveProperty(name);
    const azureYaml = readFileSync(path.join(root, 'azure.yaml'), 'utf8');
    expect(azureYaml).toMatch(/^ {2}api:\n {4}project: \.\n {4}language: ts\n {4}host: function\n/m);
    expect(azureYaml).toMatch(/^ {4}dist: dist\/package\/app$/m);
    expect(azureYaml).toMatch(/^ {4}remoteBuild: false$/m);
  });

  describe('data protection', () => {
    it('makes storage redundancy a parameter, zone-redundant by default', () => {
      expect(main.parameters!.storageSkuName).toMatchObject({ type: 'string', defaultValue: 'Standard_ZRS' });
      expect(main.parameters!.storageSkuName!.allowedValues).toEqual(
        expect.arrayContaining(['Standard_LRS', 'Standard_ZRS', 'Standard_GZRS', 'Standard_RAGZRS']),
      );
      expect(moduleParams('storage').skuName!.value).toBe("[parameters('storageSkuName')]");
      const storage = single('Microsoft.Storage/storageAccounts');
      expect(storage.resource.sku).toEqual({ name: "[parameters('skuName')]" });
      expect(storage.template.parameters!.skuName).toMatchObject({ defaultValue: 'Standard_ZRS' });
    });

    it('locks the storage account and the Key Vault with CanNotDelete unless enableDeleteLocks is false', () => {
      expect(main.parameters!.enableDeleteLocks).toMatchObject({ type: 'bool', defaultValue: true });
      expect(moduleParams('storage').lock!.value).toBe("[parameters('enableDeleteLocks')]");
      expect(moduleParams('keyVault').lock!.value).toBe("[parameters('enableDeleteLocks')]");
      const locks = ofType('Microsoft.Authorization/locks');
      expect(locks.map((l) => l.resource.scope).sort()).toEqual([
        "[resourceId('Microsoft.KeyVault/vaults', parameters('name'))]",
        "[resourceId('Microsoft.Storage/storageAccounts', parameters('name'))]",
      ]);
      for (const l of locks) {
        expect(props(l).level).toBe('CanNotDelete');
        expect(l.resource.condition).toBe("[parameters('lock')]");
      }
    });
  });

  describe('diagnostic settings', () => {
    /** Resource types that emit logs or metrics: each needs a diagnostic setting to the workspace. */
    const MONITORED = [
      'Microsoft.Storage/storageAccounts',
      'Microsoft.Storage/storageAccounts/tableServices',
      'Microsoft.Storage/storageAccounts/blobServices',
      // queueServices is `existing` (every account has it) but its logs are switched on all the same.
      'Microsoft.KeyVault/vaults',
      'Microsoft.Web/sites',
      'Microsoft.Web/serverfarms',
      'Microsoft.OperationalInsights/workspaces',
      'Microsoft.Network/virtualNetworks',
    ];
    /** Every other resource type the template creates, and why it has no diagnostic setting. */
    const EXEMPT: Record<string, string> = {
      'Microsoft.Resources/resourceGroups': 'no resource logs',
      'Microsoft.Resources/deployments': 'modules',
      'Microsoft.ManagedIdentity/userAssignedIdentities': 'no resource logs (sign-ins are in Entra logs)',
      'Microsoft.Insights/components': 'workspace-based: its telemetry is already in the workspace',
      'Microsoft.Insights/diagnosticSettings': 'the settings themselves',
      'Microsoft.Insights/actionGroups': 'no resource logs',
      'Microsoft.Insights/scheduledQueryRules': 'alert rules (fired alerts are in the activity log)',
      'Microsoft.Insights/metricAlerts': 'alert rules (fired alerts are in the activity log)',
      'Microsoft.Insights/webtests': 'results are availability telemetry in Application Insights',
      'Microsoft.Insights/workbooks': 'no resource logs',
      'Microsoft.EventGrid/systemTopics': 'delivers to Azure Monitor alerts',
      'Microsoft.EventGrid/systemTopics/eventSubscriptions': 'child of the system topic',
      'Microsoft.Authorization/roleAssignments': 'in the activity log',
      'Microsoft.Authorization/locks': 'in the activity log',
      'Microsoft.Storage/storageAccounts/blobServices/containers': 'logged by blobServices',
      'Microsoft.Storage/storageAccounts/tableServices/tables': 'logged by tableServices',
      'Microsoft.Web/sites/config': 'part of the site',
      'Microsoft.Web/sites/basicPublishingCredentialsPolicies': 'part of the site',
      'Microsoft.Network/privateDnsZones': 'no resource logs',
      'Microsoft.Network/privateDnsZones/virtualNetworkLinks': 'no resource logs',
      'Microsoft.Network/privateEndpoints': 'traffic is logged by the storage and vault they front',
      'Microsoft.Network/privateEndpoints/privateDnsZoneGroups': 'no resource logs',
    };

    it('every resource type created is either monitored or exempt for a stated reason', () => {
      const types = [...new Set(all.map((l) => l.resource.type))];
      const unclassified = types.filter((t) => !MONITORED.includes(t) && !(t in EXEMPT));
      expect(unclassified).toEqual([]);
    });

    it('send every monitored resource (storage services too) to the Log Analytics workspace', () => {
      const settings = ofType('Microsoft.Insights/diagnosticSettings');
      for (const type of [...MONITORED, 'Microsoft.Storage/storageAccounts/queueServices']) {
        const match = settings.filter((l) => String(l.resource.scope).startsWith(`[resourceId('${type}',`));
        expect(match, type).toHaveLength(1);
        expect(String(props(match[0]!).workspaceId), type).toBe(
          "[resourceId('Microsoft.OperationalInsights/workspaces', parameters('logAnalyticsName'))]",
        );
      }
      // Logs where the resource has any: Key Vault audit events, function logs, storage requests.
      for (const type of [
        'Microsoft.KeyVault/vaults',
        'Microsoft.Web/sites',
        'Microsoft.Storage/storageAccounts/tableServices',
        'Microsoft.Storage/storageAccounts/blobServices',
        'Microsoft.Storage/storageAccounts/queueServices',
      ]) {
        const setting = settings.find((l) => String(l.resource.scope).startsWith(`[resourceId('${type}',`))!;
        expect(props(setting).logs, type).toEqual([{ categoryGroup: 'allLogs', enabled: true }]);
      }
      // The modules get the workspace by its computed name (What-If predicts it).
      for (const name of ['storage', 'keyVault', 'plan', 'api', 'network'])
        expect(moduleParams(name).logAnalyticsName!.value, name).toBe("[variables('logAnalyticsName')]");
    });
  });

  describe('alerts', () => {
    const queriesDir = path.join(infraDir, 'monitoring', 'queries');

    it('notify one action group whose email receiver is the alertEmail parameter', () => {
      expect(main.parameters!.alertEmail).toMatchObject({ type: 'string', defaultValue: '' });
      expect(String(moduleParams('alerts').alertEmails)).toContain("createArray(parameters('alertEmail'))");
      const group = single('Microsoft.Insights/actionGroups');
      expect(group.resource.location).toBe('global');
      // One email receiver per address (a property copy loop in ARM).
      expect(JSON.stringify(props(group).copy)).toContain(
        '"emailAddress":"[parameters(\'alertEmails\')[copyIndex(\'emailReceivers\')]]"',
      );
      expect(String(props(group).groupShortName).length).toBeLessThanOrEqual(12);
    });

    it('alert on the 5xx rate, failed sign-ins and dependency 503s from the app telemetry', () => {
      const rule = single('Microsoft.Insights/scheduledQueryRules');
      const alerts = (rule.template.variables as { logAlerts: Json[] }).logAlerts;
      expect(alerts.map((a) => a.name)).toEqual(['http-5xx-rate', 'signin-failures', 'dependency-503']);
      expect(rule.resource.copy).toMatchObject({ count: "[length(variables('logAlerts'))]" });
      const p = props(rule) as { scopes: string[]; actions: { actionGroups: string[] } };
      expect(p.scopes).toEqual([
        "[resourceId('Microsoft.Insights/components', parameters('applicationInsightsName'))]",
      ]);
      expect(p.actions.actionGroups[0]).toContain('Microsoft.Insights/actionGroups');
      // Each query is a file under infra/monitoring/queries, loaded as it is.
      const files = ['alert-5xx-rate.kql', 'alert-signin-failures.kql', 'alert-dependency-503.kql'];
      const vars = rule.template.variables as Record<string, unknown>;
      const query = (a: Json) => vars[/^\[variables\('([^']+)'\)\]$/.exec(String(a.query))![1]!];
      alerts.forEach((a, i) => {
        expect(query(a)).toBe(readFileSync(path.join(queriesDir, files[i]!), 'utf8'));
      });
      expect(alerts[0]!.metricMeasureColumn).toBe('failedPercent');
      expect(String(query(alerts[1]!))).toContain("'signin.failed'");
      expect(String(query(alerts[2]!))).toContain('dependencyFailure');
    });

    it('test /api/health of the public base URL from five locations, with an alert on it', () => {
      const test = single('Microsoft.Insights/webtests');
      expect(test.resource.kind).toBe('standard');
      const p = props(test) as { Request: Json; ValidationRules: Json; Locations: Json[]; Frequency: number };
      expect(p.Request.RequestUrl).toBe("[format('{0}/api/health', parameters('baseUrl'))]");
      expect(p.ValidationRules).toMatchObject({ ExpectedHttpStatusCode: 200, SSLCheck: true });
      expect(p.Locations.length).toBeGreaterThanOrEqual(5);
      expect(JSON.stringify(test.resource.tags)).toContain('hidden-link:');
      expect(moduleParams('alerts').baseUrl!.value).toBe("[reference('api').outputs.baseUrl.value]");
      const alert = single('Microsoft.Insights/metricAlerts');
      expect((props(alert).criteria as Json)['odata.type']).toBe(
        'Microsoft.Azure.Monitor.WebtestLocationAvailabilityCriteria',
      );
    });

    it("raise Key Vault's secret expiry events (30 days ahead) as alerts on the action group", () => {
      const topic = single('Microsoft.EventGrid/systemTopics');
      expect(props(topic).topicType).toBe('Microsoft.KeyVault.vaults');
      expect(String(props(topic).source)).toContain('Microsoft.KeyVault/vaults');
      const sub = single('Microsoft.EventGrid/systemTopics/eventSubscriptions');
      const p = props(sub) as { filter: { includedEventTypes: string[] }; destination: Json };
      expect(p.filter.includedEventTypes).toContain('Microsoft.KeyVault.SecretNearExpiry');
      expect(p.destination.endpointType).toBe('MonitorAlert');
      expect(JSON.stringify(p.destination)).toContain('Microsoft.Insights/actionGroups');
    });

    it('read only log fields the app writes (event, audit.type, audit.reason, audit.details, dependencyFailure)', () => {
      const log = readFileSync(path.join(root, 'shared', 'core', 'log.ts'), 'utf8');
      expect(log).toMatch(/event,/);
      const audit = readFileSync(path.join(root, 'shared', 'audit', 'log.ts'), 'utf8');
      expect(audit).toContain("this.log.info('audit', { audit: event })");
      const endpoint = readFileSync(path.join(root, 'shared', 'web', 'endpoint.ts'), 'utf8');
      expect(endpoint).toContain("'request.failed'");
      expect(endpoint).toContain('dependencyFailure');
    });
  });

  it('has a workbook on Application Insights built from the saved queries', () => {
    const workbook = single('Microsoft.Insights/workbooks');
    expect(props(workbook).category).toBe('workbook');
    expect(String(props(workbook).sourceId)).toContain('Microsoft.Insights/components');
    const queries = readdirSync(path.join(infraDir, 'monitoring', 'queries')).filter(
      (f) => !f.startsWith('alert-'),
    );
    expect(queries.sort()).toEqual([
      'dependency-failures.kql',
      'latency-per-leg.kql',
      'signin-failures-by-reason.kql',
      'signins-per-integration.kql',
    ]);
    const source = readFileSync(path.join(infraDir, 'core', 'monitor', 'workbook.bicep'), 'utf8');
    for (const q of queries) expect(source).toContain(`queries/${q}`);
  });

  describe('operator choices', () => {
    it('takes always-ready instances and zone redundancy as parameters', () => {
      expect(main.parameters!.alwaysReadyInstanceCount).toMatchObject({ type: 'int', defaultValue: 1 });
      expect(moduleParams('api').alwaysReadyInstanceCount!.value).toBe(
        "[parameters('alwaysReadyInstanceCount')]",
      );
      expect(main.parameters!.zoneRedundant).toMatchObject({ type: 'bool', defaultValue: false });
      expect(moduleParams('plan').zoneRedundant!.value).toBe("[parameters('zoneRedundant')]");
      expect(props(single('Microsoft.Web/serverfarms')).zoneRedundant).toBe("[parameters('zoneRedundant')]");
    });

    it('derives the public base URL, callback and OIDC issuer from the customDomain parameter', () => {
      expect(main.parameters!.customDomain).toMatchObject({ type: 'string', defaultValue: '' });
      expect(moduleParams('api').customDomain!.value).toBe("[parameters('customDomain')]");
      const outputs = main.outputs!;
      expect(outputs.BROKER_OIDC_ISSUER!.value).toBe(
        "[format('{0}/api/oidc', reference('api').outputs.baseUrl.value)]",
      );
      expect(outputs).toHaveProperty('BROKER_CUSTOM_DOMAIN_VERIFICATION_ID');
      expect(outputs).toHaveProperty('AZURE_FUNCTION_APP_DEFAULT_HOST_NAME');
    });

    it('offers private networking: VNet integration and private endpoints for storage and Key Vault', () => {
      expect(main.parameters!.vnetEnabled).toMatchObject({ type: 'bool', defaultValue: false });
      const network = all.find((l) => l.at === 'main' && l.resource.name === 'network')!;
      expect(network.resource.condition).toBe("[parameters('vnetEnabled')]");
      expect(String(moduleParams('api').virtualNetworkSubnetId)).toContain(
        "'Microsoft.Network/virtualNetworks/subnets', variables('virtualNetworkName'), 'app'",
      );
      expect(props(single('Microsoft.Web/sites')).virtualNetworkSubnetId).toBe(
        "[if(empty(parameters('virtualNetworkSubnetId')), null(), parameters('virtualNetworkSubnetId'))]",
      );
      const vnet = single('Microsoft.Network/virtualNetworks');
      expect(JSON.stringify(props(vnet).subnets)).toContain('Microsoft.App/environments');
      const endpoints = (
        single('Microsoft.Network/privateEndpoints').template.variables as { endpoints: Json[] }
      ).endpoints;
      expect(endpoints.map((e) => e.name)).toEqual(['blob', 'queue', 'table', 'vault']);
      // Storage and the vault then deny public traffic except the operator addresses given.
      expect((main.variables as Json).networkDefaultAction).toBe(
        "[if(parameters('vnetEnabled'), 'Deny', 'Allow')]",
      );
      expect(moduleParams('storage').publicNetworkAccess!.value).toBe("[variables('publicNetworkAccess')]");
      expect(moduleParams('storage').networkDefaultAction!.value).toBe("[variables('networkDefaultAction')]");
    });
  });

  it('has its parameters, the deployer permissions and every runbook step in docs/deploy.md', () => {
    const runbook = readFileSync(path.join(root, 'docs', 'deploy.md'), 'utf8');
    for (const name of Object.keys(main.parameters!)) expect(runbook, name).toContain(`\`${name}\``);
    for (const heading of [
      '## Prerequisites',
      '### Permissions of the deployer',
      '## First deploy',
      '## Bootstrap the first admin token',
      "### Then remove the deployer's data access",
      '## Backup and restore',
      '## Alerts and monitoring',
      '## Rotation',
      '## Teardown',
    ])
      expect(runbook).toContain(heading);
    expect(runbook).toContain('Role Based Access Control Administrator');
    expect(runbook).toContain('az functionapp list-flexconsumption-locations');
    expect(runbook).toContain('npm run tables:export');
    expect(runbook).toContain('npm run tables:import');
    expect(runbook).toMatch(/npm ci\s[^\n]*\n\s*npm run package/);
  });
});
