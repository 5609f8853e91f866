// `azd up` provisions this: a resource group with the Function App (Flex Consumption), its
// managed identity, storage (host, audit table, queue of asynchronous work), monitoring, and the
// role assignments.
// Microsoft Graph permissions and the facade's app registration need a directory admin:
// infra/graph-permissions/main.bicep, run once after this (README "Deploy to Azure").
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; names and tags resources.')
param environmentName string

@minLength(1)
@description('Region of every resource; one that offers Flex Consumption.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Accepted token audiences (AUTH_AUDIENCE). Default: the application id URI the graph-permissions template gives the facade app registration.')
param authAudience string = ''

@description('Microsoft Graph root (GRAPH_BASE_URL).')
param graphBaseUrl string = 'https://graph.microsoft.com'

@description('Audit table name (AUDIT_TABLE_NAME).')
param auditTableName string = 'AuditLog'

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
