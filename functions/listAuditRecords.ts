import { defineQuery } from '../shared/operations/query';
import { registerQuery } from '../shared/operations/registerOperation';
import { auditListParameters, auditRecordPage } from '../shared/schemas/audit';

// A create never needs it: loaded on the first audit query, not at cold start.
const auditApi = () => import('../shared/audit/auditApi');

export const listAuditRecords = defineQuery({
  name: 'listAuditRecords',
  summary: 'List audit records',
  description:
    'Lists the audit records of the create requests, newest first, one page at a time: who asked for which entity, when, and what became of it; beside them, the records of manifest applies and schema registrations.',
  role: 'Audit.Read',
  route: 'audit',
  params: () => ({}),
  query: ({ operations, recordedJobs = [] }) => auditListParameters([...operations.map((operation) => operation.name), ...recordedJobs]),
  response: { name: 'AuditRecordPage', description: 'One page of audit records, newest first.', schema: auditRecordPage },
  pageable: true,
  answer: async (call) => (await auditApi()).answerAuditList(call),
});

registerQuery(listAuditRecords);
