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

export interface ScimMemberSource {
  value: string;
  /** The member's display name, when the caller has it. */
  display?: string;
}

/**
 * `members` is given only when the client wants them: Entra reads groups with
 * `excludedAttributes=members` (see `membersRequested`).
 */
export function toScimGroup(group: ScimGroupSource, baseUrl: string, members?: ScimMemberSource[]) {
  return {
    schemas: [GROUP_SCHEMA],
    id: group.id,
    ...(group.externalId ? { externalId: group.externalId } : {}),
    displayName: group.displayName,
    ...(members
      ? {
          members: members.map((m) => ({
            value: m.value,
            $ref: `${baseUrl}/Users/${encodeURIComponent(m.value)}`,
            type: 'User',
            ...(m.display ? { display: m.display } : {}),
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

/**
 * Whether a group read should carry its members, from the `attributes` and `excludedAttributes`
 * query parameters (RFC 7644 §3.4.2.5): not when `members` is excluded, nor when `attributes` names
 * others only.
 */
export function membersRequested(query: {
  attributes?: string | null;
  excludedAttributes?: string | null;
}): boolean {
  const names = (v: string | null | undefined) =>
    (v ?? '')
      .split(',')
      .map((s) =>
        s
          .trim()
          .toLowerCase()
          .replace(/^urn:ietf:params:scim:schemas:core:2\.0:group:/, ''),
      )
      .filter(Boolean);
  if (names(query.excludedAttributes).some((n) => n === 'members' || n.startsWith('members.'))) return false;
  const wanted = names(query.attributes);
  return wanted.length === 0 || wanted.some((n) => n === 'members' || n.startsWith('members.'));
}
