metadata name = 'Storage account'
metadata description = 'A StorageV2 account reachable with Entra ID only: no shared keys, no public blob access, HTTPS and TLS 1.2; zone-redundant by default, optionally locked against deletion, its logs and metrics sent to Log Analytics.'

@description('Required. Name of the storage account (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param name string

@description('Required. Azure region of the storage account.')
param location string

@description('Optional. Tags of the storage account.')
param tags object = {}

@description('Optional. SKU (redundancy) of the storage account. ZRS keeps the tables through the loss of a zone; GZRS also through the loss of the region.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
  'Standard_RAGRS'
  'Standard_RAGZRS'
])
param skuName string = 'Standard_ZRS'

@description('Optional. Private blob containers to create (for example the Flex Consumption deployment container).')
param containerNames string[] = []

@description('Optional. Tables to create (the broker\'s tables, so a deployment is complete before the first request).')
param tableNames string[] = []

@description('Optional. Put a CanNotDelete lock on the account: deleting it (or its resource group) fails until the lock is removed.')
param lock bool = true

@description('Required. Name of the Log Analytics workspace that receives the account\'s logs and metrics.')
param logAnalyticsName string

@description('Optional. Whether the account accepts traffic from public networks (Disabled: private endpoints only).')
@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string = 'Enabled'

@description('Optional. Public IP addresses or CIDR ranges let through when network rules deny by default (operators running bootstrap or export).')
param allowedIpAddresses string[] = []

@description('Optional. Deny public traffic except allowedIpAddresses (private networking); Allow lets every network through.')
@allowed([
  'Allow'
  'Deny'
])
param networkDefaultAction string = 'Allow'

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logAnalyticsName
}

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
    publicNetworkAccess: publicNetworkAccess
    supportsHttpsTrafficOnly: true
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: networkDefaultAction
      ipRules: [
        for ip in allowedIpAddresses: {
          value: ip
          action: 'Allow'
        }
      ]
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

  resource queueServices 'queueServices' existing = {
    name: 'default'
  }
}

// The tables are the broker's only data: users, bindings, admin tokens, the audit log. A deleted account
// cannot be restored, so deleting it takes removing this lock first (azd down included).
resource deleteLock 'Microsoft.Authorization/locks@2020-05-01' = if (lock) {
  name: '${name}-cannot-delete'
  scope: storage
  properties: {
    level: 'CanNotDelete'
    notes: 'The identity broker\'s tables (users, bindings, admin tokens, audit log). Export them (npm run tables:export) before removing this lock.'
  }
}

resource accountDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: storage
  properties: {
    workspaceId: logAnalytics.id
    metrics: [
      {
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}

// Resource logs of a storage account are per service: every table, blob and queue request (who, what,
// status, latency) lands in StorageTableLogs / StorageBlobLogs / StorageQueueLogs.
resource tableDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: storage::tableServices
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
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}

resource blobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: storage::blobServices
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
        category: 'Transaction'
        enabled: true
      }
    ]
  }
}

resource queueDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: storage::queueServices
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
        category: 'Transaction'
        enabled: true
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
