// The user-assigned managed identity the Function App runs as: it reads and writes storage
// (host and audit table), publishes telemetry, and calls Microsoft Graph (permissions granted
// by the admin-run infra/graph-permissions template).
param name string
param location string
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output clientId string = identity.properties.clientId
output principalId string = identity.properties.principalId
