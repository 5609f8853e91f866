// Admin step, run once after `azd up` by someone who may grant application permissions and
// create app registrations (e.g. Privileged Role Administrator + Application Administrator).
// Needs Bicep CLI 0.36.1 or later (the Microsoft Graph extension, bicepconfig.json beside this file):
//   az deployment group create -g <resource group> -f infra/graph-permissions/main.bicep \
//     -p environmentName=<azd env> identityPrincipalId=<AZURE_FUNCTION_IDENTITY_PRINCIPAL_ID> [enableConnectorGroups=true]
//     [enabledPermissionGroups='["<group>"]'] (the optional groups of shared/auth/roles.json, listed in docs/operations.md)
// 1. grants the Function App identity its Microsoft Graph application permissions;
// 2. creates the facade's own app registration (the audience callers get tokens for) with the
//    app roles the operations require (one per create, and Audit.Read for the audit queries),
//    and its service principal.
extension microsoftGraphV1

@description('Name of the azd environment (as given to azd up): names the app registration.')
param environmentName string

@description('Object (principal) id of the Function App managed identity: azd output AZURE_FUNCTION_IDENTITY_PRINCIPAL_ID.')
param identityPrincipalId string

@description('Grant Directory.ReadWrite.All too, which createConnectorGroup needs (application proxy connector groups): the same as naming enableConnectorGroups in enabledPermissionGroups.')
param enableConnectorGroups bool = false

@description('Groups of Graph permissions to grant besides those every operation needs: keys of graphPermissions in shared/auth/roles.json (docs/operations.md lists them), e.g. ["enableConnectorGroups"].')
param enabledPermissionGroups array = []

@description('Application id URI of the facade app registration; must equal AUTH_AUDIENCE of the Function App.')
param facadeAppIdUri string = 'api://${tenant().tenantId}/graph-connectors-facade-${environmentName}'

var graphAppId = '00000003-0000-0000-c000-000000000000'
// Generated from the operation declarations (npm run generate): the app roles (one per create,
// and Audit.Read for the audit queries) and the Graph permissions each create needs, those
// always granted and those granted only with a parameter of this file.
var generated = loadJsonContent('../../shared/auth/roles.json')
var enabledGroups = union(enabledPermissionGroups, enableConnectorGroups ? ['enableConnectorGroups'] : [])
var optionalPermissions = flatten(map(filter(items(generated.graphPermissions), group => group.key != 'always' && contains(enabledGroups, group.key)), group => group.value))
var graphPermissions = union(generated.graphPermissions.always, optionalPermissions)
var facadeUniqueName = 'graph-connectors-facade-${environmentName}'

// App roles of the facade: users (Power Automate makers) and apps (Logic Apps managed
// identities, services) can be assigned them. Ids are stable per environment.
var facadeRoles = generated.appRoles

resource graph 'Microsoft.Graph/servicePrincipals@v1.0' existing = {
  appId: graphAppId
}

resource graphGrants 'Microsoft.Graph/appRoleAssignedTo@v1.0' = [for permission in graphPermissions: {
  appRoleId: filter(graph.appRoles, role => role.value == permission)[0].id
  principalId: identityPrincipalId
  resourceId: graph.id
}]

resource facadeApp 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: facadeUniqueName
  displayName: 'Graph Connectors Facade (${environmentName})'
  signInAudience: 'AzureADMyOrg'
  identifierUris: [
    facadeAppIdUri
  ]
  api: {
    // v1 access tokens: their audience is the application id URI asked for (AUTH_AUDIENCE),
    // both for Logic Apps managed identities and for the Power Platform aad identity provider.
    requestedAccessTokenVersion: 1
    oauth2PermissionScopes: [
      {
        id: guid(facadeUniqueName, 'user_impersonation')
        value: 'user_impersonation'
        type: 'User'
        isEnabled: true
        adminConsentDisplayName: 'Use the Graph Connectors Facade'
        adminConsentDescription: 'Call the Graph Connectors Facade as the signed-in user; what the user may create is set by the app roles assigned to them.'
        userConsentDisplayName: 'Use the Graph Connectors Facade'
        userConsentDescription: 'Call the Graph Connectors Facade as you.'
      }
    ]
  }
  appRoles: [for role in facadeRoles: {
    id: guid(facadeUniqueName, role.value)
    value: role.value
    displayName: role.displayName
    description: role.description
    allowedMemberTypes: role.allowedMemberTypes
    isEnabled: role.isEnabled
  }]
}

resource facadeServicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: facadeApp.appId
  appRoleAssignmentRequired: true
}

output facadeAppId string = facadeApp.appId
output facadeAppIdUri string = facadeAppIdUri
output facadeServicePrincipalId string = facadeServicePrincipal.id
output grantedPermissions array = graphPermissions
