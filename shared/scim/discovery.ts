/**
 * The discovery documents of RFC 7644 §4: ServiceProviderConfig, ResourceTypes and Schemas.
 * `baseUrl` is the SCIM root as the client reached it (e.g. `https://host/api/scim/v2`), without a
 * trailing slash; locations are built from it.
 */
import { listResponse } from './list-response.ts';
import { SCHEMA_DEFINITIONS, schemaResource } from './schemas.ts';
import {
  ENTERPRISE_USER_SCHEMA,
  GROUP_SCHEMA,
  RESOURCE_TYPE_SCHEMA,
  SERVICE_PROVIDER_CONFIG_SCHEMA,
  USER_SCHEMA,
} from './urns.ts';

/** The most operations one PATCH may carry, and the most members one request may name. */
export const MAX_PATCH_OPERATIONS = 1000;
export const MAX_MEMBERS_PER_REQUEST = 1000;
/** The largest body the SCIM routes read; enforced by the web layer, advertised here. */
export const MAX_SCIM_BODY_BYTES = 1024 * 1024;
/** The most resources a filtered query returns in one page. */
export const MAX_FILTER_RESULTS = 200;

export function serviceProviderConfig(baseUrl: string) {
  return {
    schemas: [SERVICE_PROVIDER_CONFIG_SCHEMA],
    documentationUri: `${baseUrl}/ServiceProviderConfig`,
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: MAX_SCIM_BODY_BYTES },
    filter: { supported: true, maxResults: MAX_FILTER_RESULTS },
    changePassword: { supported: false },
    sort: { supported: false },
    // meta.version is answered, but a conditional request (If-Match) is not honoured yet.
    etag: { supported: false },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'OAuth Bearer Token',
        description: "The integration's provisioning secret token, sent as `Authorization: Bearer`.",
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${baseUrl}/ServiceProviderConfig` },
  };
}

export function resourceTypes(baseUrl: string) {
  return [
    {
      schemas: [RESOURCE_TYPE_SCHEMA],
      id: 'User',
      name: 'User',
      endpoint: '/Users',
      description: 'User Account',
      schema: USER_SCHEMA,
      schemaExtensions: [{ schema: ENTERPRISE_USER_SCHEMA, required: false }],
      meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/User` },
    },
    {
      schemas: [RESOURCE_TYPE_SCHEMA],
      id: 'Group',
      name: 'Group',
      endpoint: '/Groups',
      description: 'Group',
      schema: GROUP_SCHEMA,
      schemaExtensions: [],
      meta: { resourceType: 'ResourceType', location: `${baseUrl}/ResourceTypes/Group` },
    },
  ];
}

export function resourceTypesList(baseUrl: string) {
  const all = resourceTypes(baseUrl);
  return listResponse(all, all.length, { startIndex: 1 });
}

export function schemasList(baseUrl: string) {
  const all = SCHEMA_DEFINITIONS.map((s) => schemaResource(s, baseUrl));
  return listResponse(all, all.length, { startIndex: 1 });
}

/** One schema by its URN (GET /Schemas/{id}), or undefined. */
export function schemaById(id: string, baseUrl: string) {
  const found = SCHEMA_DEFINITIONS.find((s) => s.id.toLowerCase() === id.toLowerCase());
  return found ? schemaResource(found, baseUrl) : undefined;
}
