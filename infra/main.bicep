// `azd up` provisions this: a resource group with the Function App (Flex Consumption), its
// managed identity, storage (host, audit table, queue of asynchronous work), monitoring, and the
// role assignments.
// Microsoft Graph permissions and the facade's app registration need a directory admin:
// infra/graph-permissions/main.bicep, run once after this (docs/deploy.md "Deploy to Azure").
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; names and tags resources.')
param environmentName string

@minLength(1)
@description('Region of every resource; one that offers Flex Consumption (the list of the Azure Functions azd quickstarts).')
@allowed([
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
])
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Accepted token audiences (AUTH_AUDIENCE). Default: the application id URI the graph-permissions template gives the facade app registration.')
param authAudience string = ''

@description('Delegated scopes a user token must carry one of (AUTH_ACCEPTED_SCOPES), comma separated. Default: user_impersonation.')
param authAcceptedScopes string = ''

@description('Application (client) ids of the client apps allowed to call (AUTH_ALLOWED_CLIENT_APPS), comma separated. Default: any client app of the tenant.')
param authAllowedClientApps string = ''

@description('Public URL the API is reached at, when not the Function App\'s own host name (PUBLIC_BASE_URL), e.g. behind API Management or a custom domain.')
param publicBaseUrl string = ''

@description('Microsoft Graph root (GRAPH_BASE_URL).')
param graphBaseUrl string = 'https://graph.microsoft.com'

@description('Audit table name (AUDIT_TABLE_NAME).')
param auditTableName string = 'AuditLog'

@description('How callers are authenticated (AUTH_MODE): jwt, or appservice behind App Service Authentication.')
@allowed(['jwt', 'appservice'])
param authMode string = 'jwt'

@description('Override of the accepted token issuers (AUTH_ISSUER); empty: the tenant\'s v1 and v2 issuers.')
param authIssuer string = ''

@description('Override of the token signing keys URL (AUTH_JWKS_URI); empty: the tenant\'s.')
param authJwksUri string = ''

@description('Deadline of one request\'s Graph work in ms, retries included (GRAPH_DEADLINE_MS).')
param graphDeadlineMs string = '30000'

@description('Timeout of one attempt at a Graph call in ms (GRAPH_ATTEMPT_TIMEOUT_MS).')
param graphAttemptTimeoutMs string = '10000'

@description('Timeout of one audit table call in ms (AUDIT_TABLE_TIMEOUT_MS).')
param auditTableTimeoutMs string = '5000'

@description('How long an Idempotency-Key and its answer are kept, in hours (IDEMPOTENCY_RETENTION_HOURS).')
param idempotencyRetentionHours string = '24'

@description('Reconciliation settles records older than this, in minutes (RECONCILE_AFTER_MINUTES).')
param reconcileAfterMinutes string = '10'

@description('Most records one reconciliation run settles (RECONCILE_MAX_RECORDS).')
param reconcileMaxRecords string = '200'

@description('Graph JSON batches one bulk request has in flight at once (BULK_BATCHES_IN_FLIGHT).')
param bulkBatchesInFlight string = '4'

@description('A bulk request expected to take longer, in seconds, is answered 202 and run from the queue (BULK_ASYNC_AFTER_SECONDS).')
param bulkAsyncAfterSeconds string = '60'

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var functionAppName = 'func-api-${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
var facadeAppIdUri = 'api://${tenant().tenantId}/graph-connectors-facade-${environmentName}'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity './app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: 'id-api-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage './app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: 'st${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    auditTableName: auditTableName
  }
}

module monitoring './app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: 'log-${resourceToken}'
    applicationInsightsName: 'appi-${resourceToken}'
    location: location
    tags: tags
    identityPrincipalId: identity.outputs.principalId
  }
}

module rbac './app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    identityPrincipalId: identity.outputs.principalId
  }
}

module api './app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: 'plan-${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    blobServiceUri: storage.outputs.blobServiceUri
    tableServiceUri: storage.outputs.tableServiceUri
    queueServiceUri: storage.outputs.queueServiceUri
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    auditTableName: storage.outputs.auditTableName
    graphBaseUrl: graphBaseUrl
    authAudience: empty(authAudience) ? facadeAppIdUri : authAudience
    authAcceptedScopes: authAcceptedScopes
    authAllowedClientApps: authAllowedClientApps
    publicBaseUrl: publicBaseUrl
    authMode: authMode
    authIssuer: authIssuer
    authJwksUri: authJwksUri
    graphDeadlineMs: graphDeadlineMs
    graphAttemptTimeoutMs: graphAttemptTimeoutMs
    auditTableTimeoutMs: auditTableTimeoutMs
    idempotencyRetentionHours: idempotencyRetentionHours
    reconcileAfterMinutes: reconcileAfterMinutes
    reconcileMaxRecords: reconcileMaxRecords
    bulkBatchesInFlight: bulkBatchesInFlight
    bulkAsyncAfterSeconds: bulkAsyncAfterSeconds
  }
  dependsOn: [
    rbac
  ]
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_URI string = api.outputs.uri
output AZURE_FUNCTION_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output AZURE_FUNCTION_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AUTH_AUDIENCE string = empty(authAudience) ? facadeAppIdUri : authAudience
output FACADE_APP_ID_URI string = facadeAppIdUri
