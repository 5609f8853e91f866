import type { FaultStep } from '../../dev/graphEmulator';
import { createConnectorGroup } from '../../functions/createConnectorGroup';
import { createExternalConnection } from '../../functions/createExternalConnection';
import { createExternalGroup } from '../../functions/createExternalGroup';
import { addExternalGroupMembersInBulk } from '../../functions/addExternalGroupMembersInBulk';
import { createExternalGroupMember } from '../../functions/createExternalGroupMember';
import type { BulkOperationDefinition, OperationDefinition } from '../../shared/operations/operation';
import type { GraphFault, RequestStep, TargetKind } from './schedule';

/** The one entity a schedule is about, and how each request step asks for it. */
export interface Target {
  kind: TargetKind;
  operation: OperationDefinition;
  /** Connections the emulator holds before the schedule starts (with the group members go in). */
  parents: { connectionId: string; groupIds: string[] }[];
  request(step: Pick<RequestStep, 'body' | 'parent'>): {
    /** The facade route below /api, also the Graph path. */
    path: string;
    params: Record<string, string>;
    body: Record<string, unknown>;
  };
  /** Emulator fault paths (regular expressions) of the create and of the reads that may follow. */
  createPath: string;
  readPath: string;
  /** The bulk form of the create, where there is one (members): it adds the entity and a companion. */
  bulk?: {
    operation: BulkOperationDefinition;
    request(step: Pick<RequestStep, 'body' | 'parent'>): { path: string; params: Record<string, string>; body: Record<string, unknown> };
    /** The other entity each bulk request adds, always with the same body. */
    companionId: string;
  };
}

export const parentConnections = ['simparent0', 'simparent1'] as const;
const groupId = 'simgroup';
const memberId = '0f0f0f0f-1111-4222-8333-444444444444';
const companionId = '0f0f0f0f-1111-4222-8333-555555555555';
const memberBody = (body: 0 | 1) => ({ id: memberId, type: body === 0 ? 'user' : 'group' });

export const targets: Record<TargetKind, Target> = {
  connection: {
    kind: 'connection',
    operation: createExternalConnection,
    parents: [],
    request: ({ body }) => ({
      path: '/v1.0/external/connections',
      params: { version: 'v1.0' },
      body: { id: 'simconn', name: body === 0 ? 'Simulated' : 'Something else', description: 'A connection' },
    }),
    createPath: '^/v1\\.0/external/connections$',
    readPath: '^/v1\\.0/external/connections/simconn$',
  },
  group: {
    kind: 'group',
    operation: createExternalGroup,
    parents: parentConnections.map((connectionId) => ({ connectionId, groupIds: [] })),
    request: ({ body, parent }) => ({
      path: `/v1.0/external/connections/${parentConnections[parent]}/groups`,
      params: { version: 'v1.0', connectionId: parentConnections[parent] },
      body: { id: groupId, displayName: body === 0 ? 'Simulated' : 'Something else' },
    }),
    createPath: '/groups$',
    readPath: `/groups/${groupId}$`,
  },
  member: {
    kind: 'member',
    operation: createExternalGroupMember,
    parents: parentConnections.map((connectionId) => ({ connectionId, groupIds: [groupId] })),
    request: ({ body, parent }) => ({
      path: `/v1.0/external/connections/${parentConnections[parent]}/groups/${groupId}/members`,
      params: { version: 'v1.0', connectionId: parentConnections[parent], groupId },
      body: memberBody(body),
    }),
    createPath: '/members$',
    readPath: '/members/',
    bulk: {
      operation: addExternalGroupMembersInBulk,
      request: ({ body, parent }) => ({
        path: `/v1.0/external/connections/${parentConnections[parent]}/groups/${groupId}/members/bulk`,
        params: { version: 'v1.0', connectionId: parentConnections[parent], groupId },
        body: { members: [memberBody(body), { id: companionId, type: 'user' }] },
      }),
      companionId,
    },
  },
  connectorGroup: {
    kind: 'connectorGroup',
    operation: createConnectorGroup,
    parents: [],
    request: ({ body }) => ({
      path: '/beta/onPremisesPublishingProfiles/applicationProxy/connectorGroups',
      params: {},
      body: { name: 'Simulated apps', region: body === 0 ? 'eur' : 'nam' },
    }),
    createPath: '/connectorGroups$',
    readPath: '/connectorGroups',
  },
};

/** A schedule's Graph fault as the emulator's fault step. */
export function faultStep(fault: GraphFault): FaultStep {
  switch (fault.kind) {
    case 'throttle':
      return { status: 429, retryAfter: '0.01' };
    case 'unavailable':
      return { status: 503, commit: fault.commit };
    case 'gatewayTimeout':
      return { status: 504, commit: fault.commit };
    case 'serverError':
      return { status: 500, commit: fault.commit };
    case 'reset':
      return { reset: true, commit: fault.commit };
    case 'hang':
      return { hang: true, commit: fault.commit };
    case 'garbage':
      return { garbage: true, commit: fault.commit };
  }
}
