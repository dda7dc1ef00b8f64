metadata name = 'Key Vault'
metadata description = 'A Key Vault authorized with Azure RBAC only, with soft delete and purge protection, optionally locked against deletion, its audit events and metrics sent to Log Analytics.'

@description('Required. Name of the vault (3-24 letters, digits and hyphens).')
@minLength(3)
@maxLength(24)
param name string

@description('Required. Azure region of the vault.')
param location string

@description('Optional. Tags of the vault.')
param tags object = {}

@description('Optional. Days a deleted vault or secret is kept before it can be purged (7-90).')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 90

@description('Optional. Whether the vault accepts traffic from public networks. "Disabled" needs a private endpoint the app can reach.')
@allowed([
  'Enabled'
  'Disabled'
])
param publicNetworkAccess string = 'Enabled'

@description('Optional. Public IP addresses or CIDR ranges let through when public access is on and private networking denies the rest.')
param allowedIpAddresses string[] = []

@description('Optional. Deny public traffic except allowedIpAddresses (private networking); Allow lets every network through.')
@allowed([
  'Allow'
  'Deny'
])
param networkDefaultAction string = 'Allow'

@description('Optional. Put a CanNotDelete lock on the vault: deleting it (or its resource group) fails until the lock is removed.')
param lock bool = true

@description('Required. Name of the Log Analytics workspace that receives the vault\'s audit events and metrics.')
param logAnalyticsName string

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logAnalyticsName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: publicNetworkAccess
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: networkDefaultAction
      ipRules: [
        for ip in allowedIpAddresses: {
          value: ip
        }
      ]
    }
  }
}

// Integration client secrets and the session signing keys live here; purge protection keeps a deleted
// vault recoverable, and the lock stops the deletion in the first place.
resource deleteLock 'Microsoft.Authorization/locks@2020-05-01' = if (lock) {
  name: '${name}-cannot-delete'
  scope: vault
  properties: {
    level: 'CanNotDelete'
    notes: 'The identity broker\'s integration secrets and signing keys.'
  }
}

// AuditEvent: every secret read and write with its caller (AZKVAuditLogs with resource-specific tables).
resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: vault
  properties: {
    workspaceId: logAnalytics.id
    logAnalyticsDestinationType: 'Dedicated'
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

@description('The resource ID of the vault.')
output resourceId string = vault.id

@description('The name of the vault.')
output name string = vault.name

@description('The URI of the vault (ends with a slash).')
output uri string = vault.properties.vaultUri
