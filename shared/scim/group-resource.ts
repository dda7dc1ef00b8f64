/** A broker group as a SCIM Group resource (RFC 7643 §4.2), and a Group body (POST, PUT) as input. */
import { z } from 'zod';
import { MAX_MEMBERS_PER_REQUEST } from './discovery.ts';
import { badRequest, invalidValue } from './errors.ts';
import { memberIds } from './group-patch.ts';
import { isObject, member } from './keys.ts';
import { checked, checkedId, optionalString, type ProvisioningRules } from './rules.ts';
import { GROUP_SCHEMA } from './urns.ts';
import { versionOf } from './user-resource.ts';

export interface ScimGroupSource {
  id: string;
  displayName: string;
  externalId: string | null;
  createdAt: string;
  updatedAt: string;
  etag: string;
}

export interface ProvisionedGroupInput {
  displayName: string;
  externalId: string | null;
  memberIds: string[];
}

/** `members` is given only when the client asked for it (Entra reads groups with excludedAttributes=members). */
export function toScimGroup(group: ScimGroupSource, baseUrl: string, members?: string[]) {
  return {
    schemas: [GROUP_SCHEMA],
    id: group.id,
    ...(group.externalId ? { externalId: group.externalId } : {}),
    displayName: group.displayName,
    ...(members
      ? {
          members: members.map((value) => ({
            value,
            $ref: `${baseUrl}/Users/${encodeURIComponent(value)}`,
            type: 'User',
          })),
        }
      : {}),
    meta: {
      resourceType: 'Group',
      created: group.createdAt,
      lastModified: group.updatedAt,
      version: versionOf(group.etag),
      location: `${baseUrl}/Groups/${encodeURIComponent(group.id)}`,
    },
  };
}

const groupBodySchema = z.object({
  displayName: z.string({ error: 'is required' }),
  externalId: z.string().nullish(),
  members: z.array(z.unknown()).nullish(),
});

export function parseScimGroup(body: unknown, rules: ProvisioningRules): ProvisionedGroupInput {
  if (!isObject(body)) throw badRequest('invalidSyntax', 'the body must be a Group resource');
  const parsed = groupBodySchema.safeParse({
    displayName: member(body, 'displayName'),
    externalId: member(body, 'externalId'),
    members: member(body, 'members'),
  });
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalidValue(issue?.path.map(String).join('.') || 'Group', issue?.message ?? 'is not valid');
  }
  const g = parsed.data;
  const members = g.members ?? [];
  if (members.length > MAX_MEMBERS_PER_REQUEST) {
    throw badRequest('invalidValue', `a request may name at most ${MAX_MEMBERS_PER_REQUEST} members`);
  }
  const displayName = optionalString(g.displayName, 'displayName');
  if (displayName === null) throw invalidValue('displayName', 'is required');
  const externalId = optionalString(g.externalId, 'externalId');
  return {
    displayName: checked(rules.displayName, displayName, 'displayName'),
    externalId: externalId === null ? null : checkedId(externalId, 'externalId'),
    memberIds: [...new Set(memberIds(members))],
  };
}
