import { appRoles } from '../auth/roles';

/**
 * Callers authenticate with Microsoft Entra ID access tokens for the facade's app registration
 * (`AUTH_*` settings, app roles below). Power Platform connectors use the `aad`
 * identity provider of `connector/apiProperties.json`; these URLs are what connectors expect.
 */

export const securityDescription =
  'Microsoft Entra ID access token for the facade app registration (audience: its application id URI). ' +
  `Each action requires one of its app roles: ${appRoles.join(', ')}.`;

export const swaggerSecurityName = 'oauth2_auth';

export const swaggerOAuth2 = {
  type: 'oauth2',
  flow: 'accessCode',
  authorizationUrl: 'https://login.microsoftonline.com/common/oauth2/authorize',
  tokenUrl: 'https://login.microsoftonline.com/common/oauth2/token',
  scopes: {},
  description: securityDescription,
} as const;

export const openApiSecurityName = 'entraId';

export const openApiOAuth2 = {
  type: 'oauth2',
  description: securityDescription,
  flows: {
    authorizationCode: {
      authorizationUrl: 'https://login.microsoftonline.com/organizations/oauth2/v2.0/authorize',
      tokenUrl: 'https://login.microsoftonline.com/organizations/oauth2/v2.0/token',
      scopes: {},
    },
    clientCredentials: {
      tokenUrl: 'https://login.microsoftonline.com/organizations/oauth2/v2.0/token',
      scopes: {},
    },
  },
} as const;
