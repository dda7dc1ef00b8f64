metadata name = 'Broker Function App'
metadata description = 'The broker on Flex Consumption: Node 22, runs as a user-assigned identity, deploys from a blob container with that identity, identity-based connections only.'

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

@description('Optional. Product name shown on the sign-in pages (BROKER_PRODUCT_NAME).')
@minLength(1)
@maxLength(80)
param productName string = 'Identity Broker'

@description('The URL without its trailing slash (the broker\'s settings are written without one).')
func withoutTrailingSlash(url string) string => endsWith(url, '/') ? substring(url, 0, max(length(url) - 1, 0)) : url

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
      BROKER_PUBLIC_BASE_URL: 'https://${functionApp.properties.defaultHostName}'
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

@description('The resource ID of the Function App.')
output resourceId string = functionApp.id

@description('The name of the Function App.')
output name string = functionApp.name

@description('The public base URL of the broker (BROKER_PUBLIC_BASE_URL), without a trailing slash.')
output baseUrl string = 'https://${functionApp.properties.defaultHostName}'
