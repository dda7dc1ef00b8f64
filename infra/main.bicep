metadata name = 'Identity broker'
metadata description = 'Provisions the identity broker: a Flex Consumption Function App running as a user-assigned identity, its storage (tables and deployment), Key Vault, Log Analytics and Application Insights. No keys anywhere: every connection uses Entra ID.'

targetScope = 'subscription'

@description('Required. Name of the environment (azd: AZURE_ENV_NAME); with the subscription and location it seeds every resource name.')
@minLength(1)
@maxLength(64)
param environmentName string

@description('Required. Azure region of every resource (one that offers Flex Consumption).')
@minLength(1)
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Optional. Object ID of the deploying user (azd: AZURE_PRINCIPAL_ID). When set, it gets Storage Table Data Contributor and Key Vault Secrets Officer, so `npm run bootstrap-admin` can write the first admin token. Empty grants nothing.')
param principalId string = ''

@description('Optional. Principal type of principalId.')
@allowed([
  'User'
  'Group'
  'ServicePrincipal'
])
param principalType string = 'User'

@description('Optional. Name of the resource group; default rg-<environmentName>.')
param resourceGroupName string = ''

@description('Optional. Memory of each Function App instance in MB (Flex Consumption).')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Optional. Maximum number of Function App instances (Flex Consumption).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Optional. Days a deleted Key Vault or secret is kept before it can be purged (7-90).')
@minValue(7)
@maxValue(90)
param keyVaultSoftDeleteRetentionInDays int = 90

@description('Optional. Whether the Key Vault accepts traffic from public networks. "Disabled" needs a private endpoint the app can reach (not provisioned here).')
@allowed([
  'Enabled'
  'Disabled'
])
param keyVaultPublicNetworkAccess string = 'Enabled'

@description('Optional. Product name shown on the sign-in pages (BROKER_PRODUCT_NAME).')
@minLength(1)
@maxLength(80)
param productName string = 'Identity Broker'

var abbrs = loadJsonContent('./abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = '${abbrs.webSitesFunctions}broker-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(toLower(uniqueString(functionAppName, resourceToken)), 7)}'
// Names are computed here, not read from module outputs, so What-If can predict every resource.
var identityName = '${abbrs.managedIdentityUserAssignedIdentities}broker-${resourceToken}'
var storageAccountName = '${abbrs.storageStorageAccounts}${resourceToken}'
var keyVaultName = '${abbrs.keyVaultVaults}${resourceToken}'
var logAnalyticsName = '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
var applicationInsightsName = '${abbrs.insightsComponents}${resourceToken}'
var appServicePlanName = '${abbrs.webServerFarms}${resourceToken}'

@description('The URL without its trailing slash (the broker\'s settings are written without one).')
func withoutTrailingSlash(url string) string => endsWith(url, '/') ? substring(url, 0, max(length(url) - 1, 0)) : url

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'core/security/user-assigned-identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: identityName
    location: location
    tags: tags
  }
}

module storage 'core/storage/storage-account.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: storageAccountName
    location: location
    tags: tags
    containerNames: [
      deploymentContainerName
    ]
    // The broker's tables (shared/storage/tables.ts TABLE_NAMES; a test keeps the two lists equal).
    tableNames: [
      'Integrations'
      'Users'
      'UserBindings'
      'Settings'
      'LoginTransactions'
      'Sessions'
      'Throttle'
      'AuditEvents'
      'AdminTokens'
      'Applications'
      'OidcStore'
    ]
  }
}

module keyVault 'core/security/key-vault.bicep' = {
  name: 'keyVault'
  scope: rg
  params: {
    name: keyVaultName
    location: location
    tags: tags
    softDeleteRetentionInDays: keyVaultSoftDeleteRetentionInDays
    publicNetworkAccess: keyVaultPublicNetworkAccess
  }
}

module monitoring 'core/monitor/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: logAnalyticsName
    applicationInsightsName: applicationInsightsName
    location: location
    tags: tags
  }
}

module plan 'core/host/flex-consumption-plan.bicep' = {
  name: 'plan'
  scope: rg
  params: {
    name: appServicePlanName
    location: location
    tags: tags
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storageAccountName
    keyVaultName: keyVaultName
    applicationInsightsName: applicationInsightsName
    // The role assignment names are guid(scope, principalId, role) as Azure recommends: a re-created identity
    // gets new assignments instead of a failed update. What-If cannot predict those names before the
    // identity exists, which is the only thing this suppression accepts.
    #disable-next-line what-if-short-circuiting
    identityPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
  }
  dependsOn: [
    storage
    keyVault
    monitoring
  ]
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    location: location
    tags: union(tags, { 'azd-service-name': 'api' })
    appServicePlanId: plan.outputs.resourceId
    identityName: identityName
    storageAccountName: storageAccountName
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: applicationInsightsName
    keyVaultName: keyVaultName
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    productName: productName
  }
  // The app starts with its identity: give it its roles before it first runs.
  dependsOn: [
    identity
    rbac
  ]
}

@description('Region of the deployment (azd).')
output AZURE_LOCATION string = location

@description('Tenant of the subscription (azd).')
output AZURE_TENANT_ID string = tenant().tenantId

@description('Name of the resource group (azd).')
output AZURE_RESOURCE_GROUP string = rg.name

@description('Name of the Function App that azd deploys the api service to.')
output AZURE_FUNCTION_APP_NAME string = api.outputs.name

@description('Name of the storage account (tables, deployment container, AzureWebJobsStorage).')
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name

@description('Name of the Key Vault.')
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name

@description('Name of the Application Insights component.')
output AZURE_APPLICATION_INSIGHTS_NAME string = monitoring.outputs.applicationInsightsName

@description('Name of the user-assigned identity the Function App runs as.')
output AZURE_MANAGED_IDENTITY_NAME string = identity.outputs.name

@description('Client ID of the user-assigned identity (the app\'s AZURE_CLIENT_ID). Named differently here so that it does not change DefaultAzureCredential on a developer machine that loads the azd environment.')
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId

@description('Public base URL of the broker (its BROKER_PUBLIC_BASE_URL).')
output BROKER_PUBLIC_BASE_URL string = api.outputs.baseUrl

@description('Redirect URI to register on each Entra app registration (platform "Web").')
output BROKER_CALLBACK_URL string = '${api.outputs.baseUrl}/api/auth/callback'

@description('Table endpoint of the broker\'s storage (its BROKER_TABLE_ENDPOINT); bootstrap-admin reads it.')
output BROKER_TABLE_ENDPOINT string = withoutTrailingSlash(storage.outputs.tableEndpoint)

@description('URI of the broker\'s Key Vault (its BROKER_KEY_VAULT_URI).')
output BROKER_KEY_VAULT_URI string = withoutTrailingSlash(keyVault.outputs.uri)
