import { createHandler } from '../shared/pipeline/pipeline';
import { acquireToken } from '../shared/pipeline/stages/acquireToken';
import { authenticate } from '../shared/pipeline/stages/authenticate';
import { idempotency } from '../shared/pipeline/stages/idempotency';
import {
  applyStage,
  applyStatusRoute,
  applyStatusStage,
  authorizeAnyCreateRole,
  authorizeManifestRoles,
  planStage,
} from '../shared/pipeline/stages/manifest';
import { readBody } from '../shared/pipeline/stages/readBody';
import { respond } from '../shared/pipeline/stages/respond';
import { validate } from '../shared/pipeline/stages/validate';
import type { ManifestOperation } from '../shared/operations/connectorJob';
import { apiOperations } from '../shared/operations/registerOperation';
import { registerHttp } from '../shared/operations/registry';
import { connectorManifestBody } from '../shared/schemas/manifest';
import { graphVersion } from '../shared/schemas/rules';

/**
 * A connector manifest — a connection, its schema, its groups with members, connector groups —
 * planned (what applying would do, nothing written) or applied (what is missing created, exactly
 * once, in dependency order, each create as its single route makes it). shared/manifest.
 */

const manifestOperation = (name: string, action: 'plan' | 'apply', summary: string, description: string): ManifestOperation =>
  Object.freeze({
    kind: 'manifest' as const,
    action,
    name,
    summary,
    description,
    // Checked per manifest (authorizeManifestRoles); this is the role of the connection every manifest names.
    role: 'ExternalConnection.Create' as const,
    rolesNeeded: action === 'apply' ? ('every' as const) : ('any' as const),
    entityType: 'connectorManifest',
    routes: [`{version}/external/connectorManifests/${action}`] as const,
    params: { version: graphVersion },
    body: connectorManifestBody,
    graphPath: '/{version}/external/connections',
  });

export const planConnectorManifest = manifestOperation(
  'planConnectorManifest',
  'plan',
  'Plan a connector manifest',
  'Says what applying a manifest would do, per entity create, exists (and who made it) or differs, and reports every validation problem; nothing is written to Microsoft Graph.',
);

export const applyConnectorManifest = manifestOperation(
  'applyConnectorManifest',
  'apply',
  'Apply a connector manifest',
  'Creates what is missing of a connection, its schema, its groups with members and connector groups, in dependency order and exactly once. A manifest with a schema, or a large one, is answered 202 with a Location URL to poll.',
);

/** The stages of each (exported for the benchmark, which serves them with a runtime of its own). */
export const planStages = [respond, authenticate, authorizeAnyCreateRole, readBody, validate, authorizeManifestRoles, acquireToken, planStage];
export const applyStages = [respond, authenticate, authorizeAnyCreateRole, readBody, validate, authorizeManifestRoles, idempotency, acquireToken, applyStage];
export const applyStatusFunction = { name: 'connectorManifestApplyStatus', role: 'ExternalConnection.Create' as const };
export const applyStatusStages = [respond, authenticate, applyStatusStage];

// Described by the OpenAPI documents beside the creates.
apiOperations.push(planConnectorManifest, applyConnectorManifest);

registerHttp(planConnectorManifest.name, {
  methods: ['POST'],
  authLevel: 'anonymous',
  route: planConnectorManifest.routes[0],
  handler: createHandler(planConnectorManifest, planStages),
});

registerHttp(applyConnectorManifest.name, {
  methods: ['POST'],
  authLevel: 'anonymous',
  route: applyConnectorManifest.routes[0],
  handler: createHandler(applyConnectorManifest, applyStages),
});

registerHttp('connectorManifestApplyStatus', {
  methods: ['GET'],
  authLevel: 'anonymous',
  route: applyStatusRoute,
  handler: createHandler(applyStatusFunction, applyStatusStages),
});
