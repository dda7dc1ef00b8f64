metadata name = 'Identity broker'
metadata description = 'Provisions the identity broker: a Flex Consumption Function App running as a user-assigned identity, its storage (tables and deployment), Key Vault, Log Analytics and Application Insights with diagnostic settings, alerts, an availability test and a workbook; optional private networking. No keys anywhere: every connection uses Entra ID.'

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

@description('Optional. Object ID of the deployer (the signed-in user, or the pipeline\'s service principal); default: whoever runs the deployment. Gets Storage Table Data Contributor while grantDeployerTableAccess is true, so `npm run bootstrap-admin` can write the first admin token. Empty grants nothing.')
param principalId string = deployer().objectId

@description('Optional. Grant principalId Storage Table Data Contributor on the storage account (bootstrap-admin, tables:import). Set false once bootstrapped; the assignment itself is then deleted by hand (docs/deploy.md).')
param grantDeployerTableAccess bool = true

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

@description('Optional. Redundancy of the storage account that holds every table. ZRS survives the loss of a zone; GZRS / RAGZRS also the loss of the region. LRS only for throwaway environments.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
  'Standard_RAGRS'
  'Standard_RAGZRS'
])
param storageSkuName string = 'Standard_ZRS'

@description('Optional. CanNotDelete locks on the storage account and the Key Vault (azd down and resource group deletion fail until they are removed). false for throwaway environments.')
param enableDeleteLocks bool = true

@description('Optional. Instances of the HTTP functions kept warm at all times (billed while idle); 0 lets the app scale to zero and pay a cold start on the first request after a quiet period.')
@minValue(0)
@maxValue(100)
param alwaysReadyInstanceCount int = 1

@description('Optional. Spread the Flex Consumption plan over availability zones (the region must offer it; use ZRS or GZRS storage with it).')
param zoneRedundant bool = false

@description('Optional. Custom host name of the broker (e.g. login.example.com). BROKER_PUBLIC_BASE_URL, the OpenID issuer and every redirect URI derive from it; bind the domain and its certificate as docs/deploy.md describes. Empty uses the default azurewebsites.net host.')
param customDomain string = ''

@description('Optional. Private networking: VNet integration of the app and private endpoints for storage (blob, queue, table) and Key Vault; both then refuse public traffic except allowedIpAddresses.')
param vnetEnabled bool = false

@description('Optional. With vnetEnabled: public IP addresses or CIDR ranges still let through to storage and Key Vault (operators running bootstrap-admin or the table export).')
param allowedIpAddresses string[] = []

@description('Optional. Email address the alerts go to (the action group); empty creates the action group without a receiver.')
param alertEmail string = ''

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
var virtualNetworkName = '${abbrs.networkVirtualNetworks}${resourceToken}'
// With private networking, storage and Key Vault take public traffic only from the listed addresses.
var publicNetworkAccess = vnetEnabled && empty(allowedIpAddresses) ? 'Disabled' : 'Enabled'
var networkDefaultAction = vnetEnabled ? 'Deny' : 'Allow'
var operatorAddresses = vnetEnabled ? allowedIpAddresses : []

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
    skuName: storageSkuName
    lock: enableDeleteLocks
    logAnalyticsName: logAnalyticsName
    publicNetworkAccess: publicNetworkAccess
    networkDefaultAction: networkDefaultAction
    allowedIpAddresses: operatorAddresses
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
      'Provisioning'
    ]
  }
  dependsOn: [
    monitoring
  ]
}

module keyVault 'core/security/key-vault.bicep' = {
  name: 'keyVault'
  scope: rg
  params: {
    name: keyVaultName
    location: location
    tags: tags
    softDeleteRetentionInDays: keyVaultSoftDeleteRetentionInDays
    publicNetworkAccess: publicNetworkAccess
    networkDefaultAction: networkDefaultAction
    allowedIpAddresses: operatorAddresses
    lock: enableDeleteLocks
    logAnalyticsName: logAnalyticsName
  }
  dependsOn: [
    monitoring
  ]
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
    zoneRedundant: zoneRedundant
    logAnalyticsName: logAnalyticsName
  }
  dependsOn: [
    monitoring
  ]
}

module network 'core/network/private-network.bicep' = if (vnetEnabled) {
  name: 'network'
  scope: rg
  params: {
    name: virtualNetworkName
    location: location
    tags: tags
    storageAccountName: storageAccountName
    keyVaultName: keyVaultName
    logAnalyticsName: logAnalyticsName
  }
  dependsOn: [
    storage
    keyVault
    monitoring
  ]
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
    userPrincipalId: grantDeployerTableAccess ? principalId : ''
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
    alwaysReadyInstanceCount: alwaysReadyInstanceCount
    productName: productName
    customDomain: customDomain
    logAnalyticsName: logAnalyticsName
    // The subnet's ID is known before the network exists (What-If can predict it).
    virtualNetworkSubnetId: vnetEnabled
      ? resourceId(subscription().subscriptionId, rg.name, 'Microsoft.Network/virtualNetworks/subnets', virtualNetworkName, 'app')
      : ''
  }
  // The app starts with its identity: give it its roles (and its network) before it first runs.
  dependsOn: [
    identity
    rbac
    network
  ]
}

module alerts 'core/monitor/alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    location: location
    tags: tags
    namePrefix: 'broker-${resourceToken}'
    applicationInsightsName: applicationInsightsName
    keyVaultName: keyVaultName
    baseUrl: api.outputs.baseUrl
    alertEmails: empty(alertEmail) ? [] : [
      alertEmail
    ]
  }
  dependsOn: [
    monitoring
    keyVault
  ]
}

module workbook 'core/monitor/workbook.bicep' = {
  name: 'workbook'
  scope: rg
  params: {
    location: location
    tags: tags
    applicationInsightsName: applicationInsightsName
  }
  dependsOn: [
    monitoring
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

@description('Issuer of the broker as OpenID Provider (its discovery document is <issuer>/.well-known/openid-configuration).')
output BROKER_OIDC_ISSUER string = '${api.outputs.baseUrl}/api/oidc'

@description('Default host name of the Function App: the CNAME target of customDomain.')
output AZURE_FUNCTION_APP_DEFAULT_HOST_NAME string = api.outputs.defaultHostName

@description('Value of the TXT record asuid.<customDomain> that proves ownership of the custom domain.')
output BROKER_CUSTOM_DOMAIN_VERIFICATION_ID string = api.outputs.customDomainVerificationId

@description('Name of the Log Analytics workspace (diagnostic settings, alerts, workbook).')
output AZURE_LOG_ANALYTICS_NAME string = logAnalyticsName

@description('Redirect URI to register on each Entra app registration (platform "Web").')
output BROKER_CALLBACK_URL string = '${api.outputs.baseUrl}/api/auth/callback'

@description('Table endpoint of the broker\'s storage (its BROKER_TABLE_ENDPOINT); bootstrap-admin reads it.')
output BROKER_TABLE_ENDPOINT string = withoutTrailingSlash(storage.outputs.tableEndpoint)

@description('URI of the broker\'s Key Vault (its BROKER_KEY_VAULT_URI).')
output BROKER_KEY_VAULT_URI string = withoutTrailingSlash(keyVault.outputs.uri)
