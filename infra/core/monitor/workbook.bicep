metadata name = 'Broker workbook'
metadata description = 'An Azure Monitor workbook on the broker\'s Application Insights: sign-ins per integration, failures by reason, latency per sign-in leg, dependency failures (the queries of infra/monitoring/queries).'

@description('Required. Azure region of the workbook.')
param location string

@description('Optional. Tags of the workbook.')
param tags object = {}

@description('Required. Name of the Application Insights component the workbook queries.')
param applicationInsightsName string

@description('Optional. Display name of the workbook.')
param displayName string = 'Identity broker: sign-ins and dependencies'

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

@description('A workbook query step over the component\'s telemetry.')
func querySection(title string, query string, visualization string) object => {
  type: 3
  name: title
  content: {
    version: 'KqlItem/1.0'
    title: title
    query: query
    size: 0
    timeContextFromParameter: 'TimeRange'
    queryType: 0
    resourceType: 'microsoft.insights/components'
    visualization: visualization
  }
}

var content = {
  version: 'Notebook/1.0'
  items: [
    {
      type: 1
      name: 'intro'
      content: {
        json: '## Identity broker\nSign-ins come from the broker\'s audit log lines (`traces`), latency from the Functions host\'s `requests`. The same queries are in `infra/monitoring/queries`.'
      }
    }
    {
      type: 9
      name: 'parameters'
      content: {
        version: 'KqlParameterItem/1.0'
        parameters: [
          {
            id: 'time-range'
            version: 'KqlParameterItem/1.0'
            name: 'TimeRange'
            type: 4
            isRequired: true
            value: {
              durationMs: 86400000
            }
            typeSettings: {
              selectableValues: [
                { durationMs: 3600000 }
                { durationMs: 86400000 }
                { durationMs: 604800000 }
                { durationMs: 2592000000 }
              ]
            }
          }
        ]
      }
    }
    querySection('Sign-ins per integration', loadTextContent('../../monitoring/queries/signins-per-integration.kql'), 'timechart')
    querySection('Sign-in failures by reason', loadTextContent('../../monitoring/queries/signin-failures-by-reason.kql'), 'table')
    querySection('Latency per sign-in leg (ms)', loadTextContent('../../monitoring/queries/latency-per-leg.kql'), 'table')
    querySection('Dependency failures', loadTextContent('../../monitoring/queries/dependency-failures.kql'), 'table')
  ]
  fallbackResourceIds: [
    applicationInsights.id
  ]
  '$schema': 'https://github.com/Microsoft/Application-Insights-Workbooks/blob/master/schema/workbook.json'
}

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(applicationInsights.id, 'broker-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: displayName
    category: 'workbook'
    sourceId: applicationInsights.id
    serializedData: string(content)
  }
}

@description('The resource ID of the workbook.')
output resourceId string = workbook.id
