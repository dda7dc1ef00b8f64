metadata name = 'Flex Consumption plan'
metadata description = 'A Linux App Service plan on the Flex Consumption (FC1) SKU for Azure Functions.'

@description('Required. Name of the plan.')
param name string

@description('Required. Azure region of the plan.')
param location string

@description('Optional. Tags of the plan.')
param tags object = {}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true // Linux
  }
}

@description('The resource ID of the plan.')
output resourceId string = plan.id

@description('The name of the plan.')
output name string = plan.name
