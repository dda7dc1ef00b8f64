/**
 * The APIs management API: resource servers that applications get JWT access tokens for
 * (`resource`, RFC 8707), with their scopes, the applications allowed to ask and the token lifetime.
 */
import { API_BODY_LIMIT, createApiSchema, patchApiSchema } from '../shared/apis/schemas.ts';
import { ResourceRoutes } from '../shared/web/resource-routes.ts';

new ResourceRoutes({
  plural: 'apis',
  param: 'id',
  bodyLimit: API_BODY_LIMIT,
  createSchema: createApiSchema,
  patchSchema: patchApiSchema,
  service: (services) => services.apis,
  idOf: (created) => created.id,
}).registerCrud();
