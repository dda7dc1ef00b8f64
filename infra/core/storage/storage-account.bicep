metadata name = 'Storage account'
metadata description = 'A StorageV2 account reachable with Entra ID only: no shared keys, no public blob access, HTTPS and TLS 1.2.'

@description('Required. Name of the storage account (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param name string

@description('Required. Azure region of the storage account.')
param location string

@description('Optional. Tags of the storage account.')
param tags object = {}

@description('Optional. SKU of the storage account.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
])
param skuName string = 'Standard_LRS'

@description('Optional. Private blob containers to create (for example the Flex Consumption deployment container).')
param containerNames string[] = []

@description('Optional. Tables to create (the broker\'s tables, so a deployment is complete before the first request).')
param tableNames string[] = []

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    dnsEndpointType: 'Standard'
    minimumTlsVersion: 'TLS1_2'
    publicNetworkAccess: 'Enabled'
    supportsHttpsTrafficOnly: true
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Allow'
    }
  }

  resource blobServices 'blobServices' = {
    name: 'default'

    resource containers 'containers' = [
      for containerName in containerNames: {
        name: containerName
        properties: {
          publicAccess: 'None'
        }
      }
    ]
  }

  resource tableServices 'tableServices' = {
    name: 'default'

    resource tables 'tables' = [
      for tableName in tableNames: {
        name: tableName
      }
    ]
  }
}

@description('The resource ID of the storage account.')
output resourceId string = storage.id

@description('The name of the storage account.')
output name string = storage.name

@description('The primary blob endpoint (ends with a slash).')
output blobEndpoint string = storage.properties.primaryEndpoints.blob

@description('The primary table endpoint (ends with a slash).')
output tableEndpoint string = storage.properties.primaryEndpoints.table
