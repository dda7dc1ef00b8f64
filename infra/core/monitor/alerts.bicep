metadata name = 'Alerts'
metadata description = 'An action group (email), log alerts on the broker\'s telemetry (5xx rate, failed sign-ins, dependency 503s), a standard availability test of /api/health with its alert, and Key Vault secret expiry events (30 days ahead) raised as alerts.'

@description('Required. Azure region of the availability test, the log alerts and the Event Grid topic.')
param location string

@description('Optional. Tags of every resource.')
param tags object = {}

@description('Required. Name prefix of the alert resources.')
param namePrefix string

@description('Required. Name of the Application Insights component the alerts query.')
param applicationInsightsName string

@description('Required. Name of the Key Vault whose secret expiry events become alerts.')
param keyVaultName string

@description('Required. Public base URL of the broker (the availability test calls <baseUrl>/api/health).')
param baseUrl string

@description('Optional. Email addresses the action group notifies; empty creates the group without receivers (add some in the portal or later).')
param alertEmails string[] = []

@description('Optional. Percentage of requests answered 5xx (in 15 minutes, at least 20 requests) that raises an alert.')
@minValue(1)
@maxValue(100)
param http5xxPercentThreshold int = 5

@description('Optional. Failed sign-ins in 15 minutes that raise an alert.')
@minValue(1)
param signInFailureThreshold int = 50

@description('Optional. Requests answered 503 because of a dependency (Table Storage, Key Vault, Entra) in 15 minutes that raise an alert.')
@minValue(1)
param dependency503Threshold int = 5

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: '${namePrefix}-ops'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'broker-ops'
    enabled: true
    emailReceivers: [
      for (email, i) in alertEmails: {
        name: 'email-${i}'
        emailAddress: email
        useCommonAlertSchema: true
      }
    ]
  }
}

// The log alerts: each query lives in infra/monitoring/queries (run it in Logs to see what fired).
var logAlerts = [
  {
    name: 'http-5xx-rate'
    displayName: 'Broker: 5xx responses above ${http5xxPercentThreshold}% of requests'
    description: 'More than ${http5xxPercentThreshold}% of the requests in 15 minutes were answered with a 5xx status.'
    severity: 1
    query: loadTextContent('../../monitoring/queries/alert-5xx-rate.kql')
    timeAggregation: 'Maximum'
    metricMeasureColumn: 'failedPercent'
    threshold: http5xxPercentThreshold
  }
  {
    name: 'signin-failures'
    displayName: 'Broker: more than ${signInFailureThreshold} failed sign-ins in 15 minutes'
    description: 'Failed sign-ins (audit type signin.failed) above the threshold: an integration\'s secret, Entra, or an attack. signin-failures-by-reason.kql breaks them down.'
    severity: 2
    query: loadTextContent('../../monitoring/queries/alert-signin-failures.kql')
    timeAggregation: 'Count'
    metricMeasureColumn: null
    threshold: signInFailureThreshold
  }
  {
    name: 'dependency-503'
    displayName: 'Broker: requests answered 503 because a dependency failed'
    description: 'Table Storage, Key Vault or Entra failed or timed out for more than ${dependency503Threshold} requests in 15 minutes. dependency-failures.kql names the dependency and operation.'
    severity: 1
    query: loadTextContent('../../monitoring/queries/alert-dependency-503.kql')
    timeAggregation: 'Count'
    metricMeasureColumn: null
    threshold: dependency503Threshold
  }
]

resource queryAlerts 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for alert in logAlerts: {
    name: '${namePrefix}-${alert.name}'
    location: location
    tags: tags
    properties: {
      displayName: alert.displayName
      description: alert.description
      severity: alert.severity
      enabled: true
      scopes: [
        applicationInsights.id
      ]
      evaluationFrequency: 'PT5M'
      windowSize: 'PT15M'
      autoMitigate: true
      criteria: {
        allOf: [
          {
            query: alert.query
            timeAggregation: alert.timeAggregation
            metricMeasureColumn: alert.metricMeasureColumn
            operator: 'GreaterThan'
            threshold: alert.threshold
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      actions: {
        actionGroups: [
          actionGroup.id
        ]
      }
    }
  }
]

// A standard test: GET /api/health every 5 minutes from five regions; 200 means Table Storage and Key
// Vault answered (503 otherwise). The hidden-link tag ties it to the component.
resource healthTest 'Microsoft.Insights/webtests@2022-06-15' = {
  name: '${namePrefix}-health'
  location: location
  tags: union(tags, {
    'hidden-link:${applicationInsights.id}': 'Resource'
  })
  kind: 'standard'
  properties: {
    SyntheticMonitorId: '${namePrefix}-health'
    Name: 'Broker /api/health'
    Description: 'GET /api/health answers 200 (tables and secrets reachable).'
    Enabled: true
    Frequency: 300
    Timeout: 30
    Kind: 'standard'
    RetryEnabled: true
    Locations: [
      {
        Id: 'emea-nl-ams-azr'
      }
      {
        Id: 'emea-gb-db3-azr'
      }
      {
        Id: 'us-va-ash-azr'
      }
      {
        Id: 'us-ca-sjc-azr'
      }
      {
        Id: 'apac-sg-sin-azr'
      }
    ]
    Request: {
      RequestUrl: '${baseUrl}/api/health'
      HttpVerb: 'GET'
      ParseDependentRequests: false
    }
    ValidationRules: {
      ExpectedHttpStatusCode: 200
      IgnoreHttpStatusCode: false
      SSLCheck: true
      SSLCertRemainingLifetimeCheck: 14
    }
  }
}

resource healthAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: '${namePrefix}-health-unavailable'
  location: 'global'
  tags: tags
  properties: {
    description: '/api/health failed from at least 2 of 5 test locations.'
    severity: 0
    enabled: true
    scopes: [
      healthTest.id
      applicationInsights.id
    ]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    autoMitigate: true
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.WebtestLocationAvailabilityCriteria'
      webTestId: healthTest.id
      componentId: applicationInsights.id
      failedLocationCount: 2
    }
    actions: [
      {
        actionGroupId: actionGroup.id
      }
    ]
  }
}

// Each integration's client secret is a Key Vault secret carrying the expiry date the admin gave, so
// Key Vault raises SecretNearExpiry 30 days ahead (and SecretExpired on the day); Event Grid turns
// each into an Azure Monitor alert on the action group.
resource vaultEvents 'Microsoft.EventGrid/systemTopics@2023-12-15-preview' = {
  name: '${namePrefix}-vault-events'
  location: location
  tags: tags
  properties: {
    source: vault.id
    topicType: 'Microsoft.KeyVault.vaults'
  }
}

resource secretExpiry 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2023-12-15-preview' = {
  parent: vaultEvents
  name: 'secret-expiry-alerts'
  properties: {
    eventDeliverySchema: 'CloudEventSchemaV1_0'
    filter: {
      includedEventTypes: [
        'Microsoft.KeyVault.SecretNearExpiry'
        'Microsoft.KeyVault.SecretExpired'
      ]
    }
    destination: {
      endpointType: 'MonitorAlert'
      properties: {
        severity: 'Sev2'
        description: 'An integration\'s client secret (or another broker secret) expires within 30 days: rotate it (docs/deploy.md, Rotation).'
        actionGroups: [
          actionGroup.id
        ]
      }
    }
  }
}

@description('The resource ID of the action group every alert notifies.')
output actionGroupId string = actionGroup.id
