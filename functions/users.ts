import { app } from '@azure/functions';
import { NotFoundError } from '../shared/core/errors.ts';
import {
  createUserSchema,
  isValidUsername,
  listUsersQuerySchema,
  patchUserSchema,
  setPasswordSchema,
  USER_BODY_LIMIT,
} from '../shared/users/schemas.ts';
import {
  ifMatch,
  json,
  jsonWithEtag,
  noContent,
  parseWith,
  queryObject,
  readJson,
} from '../shared/web/body.ts';
import { actorOf, changeContextOf, type RequestContext } from '../shared/web/endpoint.ts';
import { endpoint } from '../shared/web/runtime.ts';

/** The `{username}` route parameter, lower-cased; anything that cannot be a username is a 404. */
function usernameParam(rc: RequestContext): string {
  const raw = (rc.request.params.username ?? '').toLowerCase();
  if (!isValidUsername(raw)) throw new NotFoundError('No such user.', 'user_not_found');
  return raw;
}

function changeContext(rc: RequestContext) {
  return { actor: actorOf(rc), ...changeContextOf(rc) };
}

app.http(
  'users-list',
  endpoint({
    route: 'manage/users',
    methods: ['GET'],
    handler: async (rc) => {
      const q = parseWith(listUsersQuerySchema, queryObject(rc.request));
      return json(200, await rc.services.users.list(q));
    },
  }),
);

app.http(
  'users-create',
  endpoint({
    route: 'manage/users',
    methods: ['POST'],
    handler: async (rc) => {
      const input = await readJson(rc.request, createUserSchema, USER_BODY_LIMIT);
      const user = await rc.services.users.create(input, changeContext(rc), rc.principal);
      return jsonWithEtag(201, user, { Location: `/api/manage/users/${user.username}` });
    },
  }),
);

app.http(
  'users-get',
  endpoint({
    route: 'manage/users/{username}',
    methods: ['GET'],
    handler: async (rc) => {
      const users = rc.services.users;
      const user = await users.view(await users.requireRecord(usernameParam(rc)));
      return jsonWithEtag(200, user);
    },
  }),
);

app.http(
  'users-update',
  endpoint({
    route: 'manage/users/{username}',
    methods: ['PATCH'],
    handler: async (rc) => {
      const username = usernameParam(rc);
      const patch = await readJson(rc.request, patchUserSchema, USER_BODY_LIMIT);
      const user = await rc.services.users.update(
        username,
        patch,
        ifMatch(rc.request),
        changeContext(rc),
        rc.principal,
      );
      return jsonWithEtag(200, user);
    },
  }),
);

app.http(
  'users-delete',
  endpoint({
    route: 'manage/users/{username}',
    methods: ['DELETE'],
    handler: async (rc) => {
      await rc.services.users.delete(usernameParam(rc), ifMatch(rc.request), changeContext(rc), rc.principal);
      return noContent();
    },
  }),
);

app.http(
  'users-password-set',
  endpoint({
    route: 'manage/users/{username}/password',
    methods: ['PUT'],
    handler: async (rc) => {
      const username = usernameParam(rc);
      const { password } = await readJson(rc.request, setPasswordSchema, USER_BODY_LIMIT);
      const etag = await rc.services.users.setPassword(
        username,
        password,
        ifMatch(rc.request),
        changeContext(rc),
        rc.principal,
      );
      return noContent({ ETag: etag });
    },
  }),
);

/**
 * DELETE of one part of a user (its password, its Entra binding): conditional on If-Match, answered
 * with the user's new ETag.
 */
function removePartRoute(
  name: string,
  part: 'password' | 'binding',
  remove: 'removePassword' | 'removeBinding',
) {
  app.http(
    name,
    endpoint({
      route: `manage/users/{username}/${part}`,
      methods: ['DELETE'],
      handler: async (rc) => {
        const etag = await rc.services.users[remove](
          usernameParam(rc),
          ifMatch(rc.request),
          changeContext(rc),
          rc.principal,
        );
        return noContent({ ETag: etag });
      },
    }),
  );
}

removePartRoute('users-password-remove', 'password', 'removePassword');
removePartRoute('users-binding-remove', 'binding', 'removeBinding');

app.http(
  'users-sessions-revoke',
  endpoint({
    route: 'manage/users/{username}/sessions',
    methods: ['DELETE'],
    handler: async (rc) => {
      const revoked = await rc.services.users.revokeSessions(usernameParam(rc), changeContext(rc));
      return json(200, { revoked });
    },
  }),
);
