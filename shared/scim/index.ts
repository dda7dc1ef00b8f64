/** The SCIM 2.0 protocol layer (RFC 7643/7644) in Entra's dialect: pure, no storage, no HTTP. */
export * from './boolean.ts';
export * from './discovery.ts';
export * from './errors.ts';
export * from './filter.ts';
export * from './group-patch.ts';
export * from './group-resource.ts';
export * from './list-response.ts';
export * from './paging.ts';
export * from './patch-request.ts';
export * from './path.ts';
export * from './rules.ts';
export * from './schemas.ts';
export * from './unicode.ts';
export * from './urns.ts';
export * from './user-changes.ts';
export * from './user-patch.ts';
export * from './user-resource.ts';
