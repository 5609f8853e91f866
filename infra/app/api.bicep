// The Function App on Flex Consumption (FC1), Node.js, running as the user-assigned identity.
param name string
param planName string
param location string
param tags object = {}
param identityId string
param identityClientId string
param blobServiceUri string
param tableServiceUri string
param queueServiceUri string
param deploymentContainerName string
param applicationInsightsConnectionString string
param auditTableName string
param graphBaseUrl string
param authAudience string
param authIssuer string = ''
param authJwksUri string = ''
@allowed(['20', '22'])
param nodeVersion string = '22'
param maximumInstanceCount int = 100
param instanceMemoryMB int = 2048

// Every setting the app reads (shared/config.ts settingsCatalog, scope app), and the host's own.
// test/unit/infraDrift.test.ts checks this object against the catalogue: keep one key a line.
// IDENTITY_ENDPOINT/IDENTITY_HEADER are set by the platform; an empty value means "default"
// and is left out below. FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION must not be
// set on Flex Consumption (functionAppConfig.runtime says it).
var appSettings = {
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: blobServiceUri
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  AZURE_CLIENT_ID: identityClientId
  GRAPH_BASE_URL: graphBaseUrl
  AuditStorage__tableServiceUri: tableServiceUri
  AuditStorage__queueServiceUri: queueServiceUri
  AuditStorage__credential: 'managedidentity'
  AuditStorage__clientId: identityClientId
  AUDIT_TABLE_NAME: auditTableName
  GRAPH_DEADLINE_MS: '30000'
  GRAPH_ATTEMPT_TIMEOUT_MS: '10000'
  IDEMPOTENCY_RETENTION_HOURS: '24'
  RECONCILE_AFTER_MINUTES: '10'
  RECONCILE_MAX_RECORDS: '200'
  AUTH_MODE: 'jwt'
  AUTH_TENANT_ID: tenant().tenantId
  AUTH_AUDIENCE: authAudience
  AUTH_ISSUER: authIssuer
  AUTH_JWKS_URI: authJwksUri
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource api 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${blobServiceUri}/${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'node'
        version: nodeVersion
      }
    }
  }
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: api
  name: 'appsettings'
  properties: toObject(filter(items(appSettings), setting => !empty(setting.value)), setting => setting.key, setting => setting.value)
}

output name string = api.name
output uri string = 'https://${api.properties.defaultHostName}'
