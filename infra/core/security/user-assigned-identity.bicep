metadata name = 'User-assigned managed identity'
metadata description = 'A user-assigned managed identity the Function App runs as (no secrets, no keys).'

@description('Required. Name of the identity.')
param name string

@description('Required. Azure region of the identity.')
param location string

@description('Optional. Tags of the identity.')
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

@description('The resource ID of the identity.')
output resourceId string = identity.id

@description('The name of the identity.')
output name string = identity.name

@description('The client (application) ID of the identity: AZURE_CLIENT_ID for the app.')
output clientId string = identity.properties.clientId

@description('The object (principal) ID of the identity, used in role assignments.')
output principalId string = identity.properties.principalId
