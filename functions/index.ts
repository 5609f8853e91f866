/**
 * Entry point (`main` in package.json): importing a function file registers it. The list is
 * exported for the local host, which serves exactly these definitions.
 */
import './createExternalConnection';
import './createExternalGroup';
import './createExternalGroupMember';
import './addExternalGroupMembersInBulk';
import './createConnectorGroup';
import './registerConnectionSchema';
import './connectorManifests';
import './listAuditRecords';
import './getEntityAuditRecords';
import './bulkJobs';
import './health';
import './openapi';
import './reconcile';
// Last: the catch-all answers whatever no function above takes.
import './unknownRoute';

export { functionDefinitions } from '../shared/operations/registry';
export { reconcileAuditRecords } from './reconcile';
export { documentedOperations, openApiJson, swaggerJson, targetOf } from './openapi';
