import { defineQuery } from '../shared/operations/query';
import { registerQuery } from '../shared/operations/registerOperation';
import { entityAuditPathParameters, entityAuditRecords, parentParameters, timeWindowParameters } from '../shared/schemas/audit';

// A create never needs it: loaded on the first audit query, not at cold start.
const auditApi = () => import('../shared/audit/auditApi');

export const getEntityAuditRecords = defineQuery({
  name: 'getEntityAuditRecords',
  summary: 'Get the audit records of an entity',
  description:
    'Gets the audit records of one entity, newest first: the record of the request that made it, however old, and the other requests for it in the time window.',
  role: 'Audit.Read',
  route: 'audit/{operation}/{entityId}',
  params: ({ operations }) => entityAuditPathParameters(operations.map((operation) => operation.name)),
  query: ({ operations }) => ({ ...timeWindowParameters, ...parentParameters(operations) }),
  response: { name: 'EntityAuditRecords', description: 'The audit records of the entity, newest first.', schema: entityAuditRecords },
  pageable: false,
  notFound: 'No record made the entity, and none was requested for it in the time window (itemNotFound).',
  answer: async (call) => (await auditApi()).answerEntityAudit(call),
});

registerQuery(getEntityAuditRecords);
