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
param authMode string = 'jwt'
param authIssuer string = ''
param authJwksUri string = ''
param authAcceptedScopes string = ''
param authAllowedClientApps string = ''
param publicBaseUrl string = ''
param graphDeadlineMs string = '30000'
param graphAttemptTimeoutMs string = '10000'
param auditTableTimeoutMs string = '5000'
param idempotencyRetentionHours string = '24'
param reconcileAfterMinutes string = '10'
param reconcileMaxRecords string = '200'
param bulkBatchesInFlight string = '4'
param bulkAsyncAfterSeconds string = '60'
// Node.js 20 reached end of life on 2026-04-30.
@allowed(['22'])
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
  GRAPH_DEADLINE_MS: graphDeadlineMs
  GRAPH_ATTEMPT_TIMEOUT_MS: graphAttemptTimeoutMs
  AUDIT_TABLE_TIMEOUT_MS: auditTableTimeoutMs
  IDEMPOTENCY_RETENTION_HOURS: idempotencyRetentionHours
  RECONCILE_AFTER_MINUTES: reconcileAfterMinutes
  RECONCILE_MAX_RECORDS: reconcileMaxRecords
  BULK_BATCHES_IN_FLIGHT: bulkBatchesInFlight
  BULK_ASYNC_AFTER_SECONDS: bulkAsyncAfterSeconds
  AUTH_MODE: authMode
  AUTH_TENANT_ID: tenant().tenantId
  AUTH_AUDIENCE: authAudience
  AUTH_ISSUER: authIssuer
  AUTH_JWKS_URI: authJwksUri
  AUTH_ACCEPTED_SCOPES: authAcceptedScopes
  AUTH_ALLOWED_CLIENT_APPS: authAllowedClientApps
  PUBLIC_BASE_URL: publicBaseUrl
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

// No FTP and no basic-auth (publishing profile) deployments: azd deploys with Microsoft Entra ID.
resource ftpPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: api
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmPublishing 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: api
  name: 'scm'
  properties: {
    allow: false
  }
}

// Every app setting, as a whole: a provision replaces what is there, so a setting changed with
// `az functionapp config appsettings set` is undone by the next `azd up`. Change settings through
// parameters (`azd env set …`, then `azd provision`).
resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: api
  name: 'appsettings'
  properties: toObject(filter(items(appSettings), setting => !empty(setting.value)), setting => setting.key, setting => setting.value)
}

output name string = api.name
output uri string = 'https://${api.properties.defaultHostName}'
