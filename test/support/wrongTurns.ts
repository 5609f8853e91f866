/**
 * The wrong turns a Graph client or a flow author takes, with the answer each must get: the same
 * table is checked through the catch-all function as the Functions host routes it (unit) and over
 * HTTP through the local host (integration).
 */
export interface WrongTurn {
  name: string;
  method: string;
  /** As sent, below the host: `/api/…`. */
  path: string;
  status: 404 | 405;
  code: 'UnknownRoute' | 'MethodNotAllowed';
  /** The path the answer names (after the URL's `.`/`..` segments are resolved). */
  namedPath: string;
  /** 405: the `Allow` header. */
  allow?: string;
  /** 404: the nearest supported route the message names. */
  nearest?: string;
}

export const wrongTurns: WrongTurn[] = [
  {
    name: 'a GET on a create route',
    method: 'GET',
    path: '/api/v1.0/external/connections',
    status: 405,
    code: 'MethodNotAllowed',
    namedPath: '/api/v1.0/external/connections',
    allow: 'POST',
  },
  {
    name: 'a typo in the route (connectionz)',
    method: 'POST',
    path: '/api/v1.0/external/connectionz',
    status: 404,
    code: 'UnknownRoute',
    namedPath: '/api/v1.0/external/connectionz',
    nearest: 'POST /api/v1.0/external/connections',
  },
  {
    name: 'an OPTIONS on a create route',
    method: 'OPTIONS',
    path: '/api/v1.0/external/connections/contosohr/groups',
    status: 405,
    code: 'MethodNotAllowed',
    namedPath: '/api/v1.0/external/connections/contosohr/groups',
    allow: 'POST',
  },
  {
    name: 'the connector group route on v1.0 (it is beta only)',
    method: 'POST',
    path: '/api/v1.0/onPremisesPublishingProfiles/applicationProxy/connectorGroups',
    status: 404,
    code: 'UnknownRoute',
    namedPath: '/api/v1.0/onPremisesPublishingProfiles/applicationProxy/connectorGroups',
    nearest: 'POST /api/beta/onPremisesPublishingProfiles/applicationProxy/connectorGroups',
  },
  {
    name: 'an encoded dot-dot segment in place of the connection id',
    method: 'POST',
    path: '/api/v1.0/external/connections/%2E%2E/groups',
    status: 404,
    code: 'UnknownRoute',
    namedPath: '/api/v1.0/external/groups',
    nearest: 'POST /api/v1.0/external/connections',
  },
  {
    name: 'a POST to the audit list (it is read only)',
    method: 'POST',
    path: '/api/audit',
    status: 405,
    code: 'MethodNotAllowed',
    namedPath: '/api/audit',
    allow: 'GET, HEAD',
  },
  {
    name: 'a typo in the audit route (audits)',
    method: 'GET',
    path: '/api/audits',
    status: 404,
    code: 'UnknownRoute',
    namedPath: '/api/audits',
    nearest: 'GET, HEAD /api/audit',
  },
];
