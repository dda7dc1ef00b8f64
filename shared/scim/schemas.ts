/**
 * The schemas the broker serves at /Schemas (RFC 7643 §7 and §8.7.1), limited to the attributes it
 * keeps. Entra's "Schema discoverability" check reads this list and compares it with the attribute
 * mappings of the enterprise application, so an attribute listed here is one the broker stores and
 * answers back; everything else a client sends is ignored, as RFC 7643 §3.1 allows.
 * The same definitions give attribute names their canonical case (names are case-insensitive).
 */
import { ENTERPRISE_USER_SCHEMA, GROUP_SCHEMA, SCHEMA_SCHEMA, USER_SCHEMA } from './urns.ts';

export interface AttributeDefinition {
  name: string;
  type: 'string' | 'boolean' | 'complex' | 'reference' | 'dateTime';
  multiValued: boolean;
  description: string;
  required: boolean;
  caseExact: boolean;
  mutability: 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
  returned: 'always' | 'never' | 'default' | 'request';
  uniqueness: 'none' | 'server' | 'global';
  subAttributes?: AttributeDefinition[];
  referenceTypes?: string[];
  canonicalValues?: string[];
}

export interface SchemaDefinition {
  id: string;
  name: string;
  description: string;
  attributes: AttributeDefinition[];
}

type Options = Partial<Omit<AttributeDefinition, 'name' | 'type' | 'description'>>;

function attr(
  name: string,
  type: AttributeDefinition['type'],
  description: string,
  opts: Options = {},
): AttributeDefinition {
  return {
    name,
    type,
    multiValued: false,
    description,
    required: false,
    caseExact: false,
    mutability: 'readWrite',
    returned: 'default',
    uniqueness: 'none',
    ...opts,
  };
}

const typeAttr = (values: string[]) =>
  attr('type', 'string', 'A label indicating the function of the value.', { canonicalValues: values });
const primaryAttr = attr('primary', 'boolean', 'Whether this is the preferred value.');

export const USER_SCHEMA_DEFINITION: SchemaDefinition = {
  id: USER_SCHEMA,
  name: 'User',
  description: 'User Account',
  attributes: [
    attr('userName', 'string', 'Unique identifier for the User; the broker username.', {
      required: true,
      uniqueness: 'server',
    }),
    attr('name', 'complex', "The components of the user's name.", {
      subAttributes: [
        attr('givenName', 'string', 'The given name of the User.'),
        attr('familyName', 'string', 'The family name of the User.'),
        attr('formatted', 'string', 'The full name, formatted for display.'),
      ],
    }),
    attr('displayName', 'string', 'The name of the User, suitable for display to end-users.'),
    attr('active', 'boolean', "The User's administrative status; false disables the user at once."),
    attr('emails', 'complex', 'Email addresses; the primary (or work) one is the broker email.', {
      multiValued: true,
      subAttributes: [
        attr('value', 'string', 'Email address.'),
        typeAttr(['work', 'home', 'other']),
        primaryAttr,
      ],
    }),
    attr('addresses', 'complex', 'A physical mailing address; the broker keeps the work one, formatted.', {
      multiValued: true,
      subAttributes: [
        attr('formatted', 'string', 'The full mailing address.'),
        typeAttr(['work']),
        primaryAttr,
      ],
    }),
  ],
};

export const ENTERPRISE_USER_SCHEMA_DEFINITION: SchemaDefinition = {
  id: ENTERPRISE_USER_SCHEMA,
  name: 'EnterpriseUser',
  description: 'Enterprise User',
  attributes: [
    attr('manager', 'complex', "The User's manager.", {
      subAttributes: [
        attr('value', 'string', 'The id of the SCIM resource representing the manager.'),
        attr('$ref', 'reference', 'The URI of the manager resource.', { referenceTypes: ['User'] }),
        attr('displayName', 'string', 'The displayName of the manager.', { mutability: 'readOnly' }),
      ],
    }),
  ],
};

export const GROUP_SCHEMA_DEFINITION: SchemaDefinition = {
  id: GROUP_SCHEMA,
  name: 'Group',
  description: 'Group',
  attributes: [
    attr('displayName', 'string', 'A human-readable name for the Group.', { required: true }),
    attr('members', 'complex', 'A list of members of the Group.', {
      multiValued: true,
      subAttributes: [
        attr('value', 'string', 'Identifier of the member of this Group.', { mutability: 'immutable' }),
        attr('$ref', 'reference', 'The URI of the member resource.', {
          mutability: 'immutable',
          referenceTypes: ['User', 'Group'],
        }),
        attr('type', 'string', 'The type of the member.', {
          mutability: 'immutable',
          canonicalValues: ['User'],
        }),
      ],
    }),
  ],
};

/** The common attributes every resource has (RFC 7643 §3.1); not part of a schema's list. */
export const COMMON_ATTRIBUTE_NAMES = ['id', 'externalId', 'meta', 'schemas'] as const;

export const SCHEMA_DEFINITIONS: SchemaDefinition[] = [
  USER_SCHEMA_DEFINITION,
  ENTERPRISE_USER_SCHEMA_DEFINITION,
  GROUP_SCHEMA_DEFINITION,
];

/** A schema as a resource of /Schemas, with its meta (RFC 7643 §7). */
export function schemaResource(schema: SchemaDefinition, baseUrl: string) {
  return {
    schemas: [SCHEMA_SCHEMA],
    ...schema,
    meta: { resourceType: 'Schema', location: `${baseUrl}/Schemas/${schema.id}` },
  };
}
