import type { FaultStep } from '../../dev/graphEmulator';
import { createConnectorGroup } from '../../functions/createConnectorGroup';
import { createExternalConnection } from '../../functions/createExternalConnection';
import { createExternalGroup } from '../../functions/createExternalGroup';
import { addExternalGroupMembersInBulk } from '../../functions/addExternalGroupMembersInBulk';
import { createExternalGroupMember } from '../../functions/createExternalGroupMember';
import type { BulkOperationDefinition, OperationDefinition } from '../../shared/operations/operation';
import type { GraphFault, RequestStep, Spelling, TargetKind } from './schedule';

/** The one entity a schedule is about, and how each request step asks for it. */
export interface Target {
  kind: TargetKind;
  operation: OperationDefinition;
  /** Connections the emulator holds before the schedule starts (with the group members go in). */
  parents: { connectionId: string; groupIds: string[] }[];
  request(step: Pick<RequestStep, 'body' | 'parent' | 'spelling'>): {
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
    request(step: Pick<RequestStep, 'body' | 'parent' | 'spelling'>): { path: string; params: Record<string, string>; body: Record<string, unknown> };
    /** The other entity each bulk request adds, always with the same body. */
    companionId: string;
  };
}

export const parentConnections = ['simparent0', 'simparent1'] as const;
/**
 * A connection id as a request spells it: as created, or in other letter case, which Graph takes
 * for the same connection (docs/graph-facts.md).
 */
export const spelled = (id: string, spelling: Spelling) => (spelling === 0 ? id : id.replace(/^sim/, 'Sim').replace(/(parent|conn)/, (word) => word[0]!.toUpperCase() + word.slice(1)));
const parentOf = (parent: 0 | 1, spelling: Spelling) => spelled(parentConnections[parent], spelling);
const groupId = 'simgroup';
const memberId = '0f0f0f0f-1111-4222-8333-444444444444';
const companionId = '0f0f0f0f-1111-4222-8333-555555555555';
const memberBody = (body: 0 | 1) => ({ id: memberId, type: body === 0 ? 'user' : 'group' });

export const targets: Record<TargetKind, Target> = {
  connection: {
    kind: 'connection',
    operation: createExternalConnection,
    parents: [],
    request: ({ body, spelling }) => ({
      path: '/v1.0/external/connections',
      params: { version: 'v1.0' },
      body: { id: spelled('simconn', spelling), name: body === 0 ? 'Simulated' : 'Something else', description: 'A connection' },
    }),
    createPath: '^/v1\\.0/external/connections$',
    readPath: '^/v1\\.0/external/connections/[^/]+$',
  },
  group: {
    kind: 'group',
    operation: createExternalGroup,
    parents: parentConnections.map((connectionId) => ({ connectionId, groupIds: [] })),
    request: ({ body, parent, spelling }) => ({
      path: `/v1.0/external/connections/${parentOf(parent, spelling)}/groups`,
      params: { version: 'v1.0', connectionId: parentOf(parent, spelling) },
      body: { id: groupId, displayName: body === 0 ? 'Simulated' : 'Something else' },
    }),
    createPath: '/groups$',
    readPath: `/groups/${groupId}$`,
  },
  member: {
    kind: 'member',
    operation: createExternalGroupMember,
    parents: parentConnections.map((connectionId) => ({ connectionId, groupIds: [groupId] })),
    request: ({ body, parent, spelling }) => ({
      path: `/v1.0/external/connections/${parentOf(parent, spelling)}/groups/${groupId}/members`,
      params: { version: 'v1.0', connectionId: parentOf(parent, spelling), groupId },
      body: memberBody(body),
    }),
    createPath: '/members$',
    readPath: '/members/',
    bulk: {
      operation: addExternalGroupMembersInBulk,
      request: ({ body, parent, spelling }) => ({
        path: `/v1.0/external/connections/${parentOf(parent, spelling)}/groups/${groupId}/members/bulk`,
        params: { version: 'v1.0', connectionId: parentOf(parent, spelling), groupId },
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
    case 'oddSuccess':
      return { status: 201, commit: true, bodyText: fault.body === 'noId' ? '{}' : fault.body === 'empty' ? '' : 'created' };
  }
}
