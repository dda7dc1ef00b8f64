metadata name = 'Broker Function App'
metadata description = 'The broker on Flex Consumption: Node 22, runs as a user-assigned identity, deploys from a blob container with that identity, identity-based connections only, optionally always-ready, VNet-integrated and behind a custom domain; its logs go to Log Analytics.'

@description('Required. Name of the Function App (also its default host name label).')
param name string

@description('Required. Azure region of the Function App.')
param location string

@description('Optional. Tags of the Function App (azd finds the app by its azd-service-name tag).')
param tags object = {}

@description('Required. Resource ID of the Flex Consumption plan.')
param appServicePlanId string

@description('Required. Name of the user-assigned identity the app runs as.')
param identityName string

@description('Required. Name of the storage account: AzureWebJobsStorage, the deployment container and the broker\'s tables.')
param storageAccountName string

@description('Required. Name of the blob container holding the deployment package.')
param deploymentContainerName string

@description('Required. Name of the Application Insights component.')
param applicationInsightsName string

@description('Required. Name of the Key Vault holding the integration secrets and session signing keys.')
param keyVaultName string

@description('Optional. Memory of each instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Optional. Maximum number of instances the app scales out to.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Optional. Instances of the HTTP functions kept running at all times (billed while idle): no cold start for the first sign-in after a quiet period. 0 scales to zero.')
@minValue(0)
@maxValue(100)
param alwaysReadyInstanceCount int = 1

@description('Optional. Product name shown on the sign-in pages (BROKER_PRODUCT_NAME).')
@minLength(1)
@maxLength(80)
param productName string = 'Identity Broker'

@description('Optional. Host name users reach the broker at (e.g. login.example.com); empty uses the default *.azurewebsites.net host. Every redirect URI and the OpenID issuer derive from it.')
param customDomain string = ''

@description('Optional. Resource ID of the delegated subnet for VNet integration (outbound traffic to storage and Key Vault over private endpoints); empty for none.')
param virtualNetworkSubnetId string = ''

@description('Required. Name of the Log Analytics workspace that receives the app\'s logs and metrics.')
param logAnalyticsName string

@description('The URL without its trailing slash (the broker\'s settings are written without one).')
func withoutTrailingSlash(url string) string => endsWith(url, '/') ? substring(url, 0, max(length(url) - 1, 0)) : url

// The public base URL: the custom domain when there is one, the default host otherwise.
var baseUrl = empty(customDomain) ? 'https://${functionApp.properties.defaultHostName}' : 'https://${customDomain}'

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' existing = {
  name: identityName
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logAnalyticsName
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: appServicePlanId
    httpsOnly: true
    clientCertEnabled: false
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identity.id
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
        alwaysReady: alwaysReadyInstanceCount > 0
          ? [
              {
                name: 'http'
                instanceCount: alwaysReadyInstanceCount
              }
            ]
          : []
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }

  // Every setting the app reads. Flex Consumption takes the runtime from functionAppConfig, so
  // FUNCTIONS_WORKER_RUNTIME / FUNCTIONS_EXTENSION_VERSION are not set. No keys or connection strings
  // with secrets: storage, Key Vault and Application Insights are all reached with the identity.
  resource appSettings 'config' = {
    name: 'appsettings'
    properties: {
      AzureWebJobsStorage__credential: 'managedidentity'
      AzureWebJobsStorage__clientId: identity.properties.clientId
      AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
      AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
      AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
      // Not a secret (an ingestion endpoint and an instrumentation key that grants nothing with local auth off).
      APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identity.properties.clientId};Authorization=AAD'
      AZURE_CLIENT_ID: identity.properties.clientId
      BROKER_PUBLIC_BASE_URL: baseUrl
      BROKER_TABLE_ENDPOINT: withoutTrailingSlash(storage.properties.primaryEndpoints.table)
      BROKER_KEY_VAULT_URI: withoutTrailingSlash(vault.properties.vaultUri)
      BROKER_PRODUCT_NAME: productName
    }
  }

  // The app deploys with Entra ID tokens (azd / az functionapp deployment use OneDeploy), never basic auth.
  resource ftpCredentials 'basicPublishingCredentialsPolicies' = {
    name: 'ftp'
    properties: {
      allow: false
    }
  }

  resource scmCredentials 'basicPublishingCredentialsPolicies' = {
    name: 'scm'
    properties: {
      allow: false
    }
  }
}

// FunctionAppLogs: every invocation's host and worker log lines, the broker's JSON lines among them.
resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: functionApp
  properties: {
    workspaceId: logAnalytics.id
    logs: [
      {
        categoryGroup: 'allLogs'
        enabled: true
      }
    ]
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

@description('The resource ID of the Function App.')
output resourceId string = functionApp.id

@description('The name of the Function App.')
output name string = functionApp.name

@description('The public base URL of the broker (BROKER_PUBLIC_BASE_URL), without a trailing slash.')
output baseUrl string = baseUrl

@description('The default host name of the Function App (the CNAME target of a custom domain).')
output defaultHostName string = functionApp.properties.defaultHostName

@description('The ID a custom domain proves ownership with (TXT record asuid.<domain>).')
output customDomainVerificationId string = functionApp.properties.customDomainVerificationId
