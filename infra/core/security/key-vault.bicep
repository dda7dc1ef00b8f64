metadata name = 'Key Vault'
metadata description = 'A Key Vault authorized with Azure RBAC only, with soft delete and purge protection.'

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
      defaultAction: publicNetworkAccess == 'Enabled' ? 'Allow' : 'Deny'
    }
  }
}

@description('The resource ID of the vault.')
output resourceId string = vault.id

@description('The name of the vault.')
output name string = vault.name

@description('The URI of the vault (ends with a slash).')
output uri string = vault.properties.vaultUri
