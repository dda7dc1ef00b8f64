metadata name = 'Flex Consumption plan'
metadata description = 'A Linux App Service plan on the Flex Consumption (FC1) SKU for Azure Functions, optionally zone-redundant, its metrics sent to Log Analytics.'

@description('Required. Name of the plan.')
param name string

@description('Required. Azure region of the plan.')
param location string

@description('Optional. Tags of the plan.')
param tags object = {}

@description('Optional. Spread the plan\'s instances over availability zones (the region must support it for Flex Consumption; pair it with zone-redundant storage).')
param zoneRedundant bool = false

@description('Required. Name of the Log Analytics workspace that receives the plan\'s metrics.')
param logAnalyticsName string

resource logAnalytics 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: logAnalyticsName
}

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
    zoneRedundant: zoneRedundant
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: plan
  properties: {
    workspaceId: logAnalytics.id
    metrics: [
      {
        category: 'AllMetrics'
        enabled: true
      }
    ]
  }
}

@description('The resource ID of the plan.')
output resourceId string = plan.id

@description('The name of the plan.')
output name string = plan.name
