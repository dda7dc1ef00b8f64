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
import { requireFreshAuthentication } from '../shared/web/admin-session.ts';
import {
  ifMatch,
  json,
  jsonWithEtag,
  noContent,
  parseWith,
  queryObject,
  readJson,
} from '../shared/web/body.ts';
import { actorOf, changeContextOf, endpoint, type RequestContext } from '../shared/web/endpoint.ts';

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
      // AD5: granting admin with a browser session needs a recent sign-in.
      if (input.roles?.includes('admin')) requireFreshAuthentication(rc.principal, rc.services.clock);
      const user = await rc.services.users.create(input, changeContext(rc));
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

/**
 * AD5 with a browser session: any change to an admin account (enable, verify type, email, binding,
 * password, deletion) or a grant of admin needs a recent sign-in. API tokens are not affected.
 */
async function freshForAdminChange(rc: RequestContext, username: string, grantsAdmin = false): Promise<void> {
  if (rc.principal?.kind !== 'session') return;
  const target = grantsAdmin ? undefined : await rc.services.users.getByUsername(username);
  if (grantsAdmin || target?.roles.includes('admin'))
    requireFreshAuthentication(rc.principal, rc.services.clock);
}

app.http(
  'users-update',
  endpoint({
    route: 'manage/users/{username}',
    methods: ['PATCH'],
    handler: async (rc) => {
      const username = usernameParam(rc);
      const patch = await readJson(rc.request, patchUserSchema, USER_BODY_LIMIT);
      await freshForAdminChange(rc, username, patch.roles?.includes('admin') === true);
      const user = await rc.services.users.update(username, patch, ifMatch(rc.request), changeContext(rc));
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
      await freshForAdminChange(rc, usernameParam(rc));
      await rc.services.users.delete(usernameParam(rc), ifMatch(rc.request), changeContext(rc));
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
      // AD5: setting a password is taking over the account; for admins it is granting admin.
      requireFreshAuthentication(rc.principal, rc.services.clock);
      const etag = await rc.services.users.setPassword(
        username,
        password,
        ifMatch(rc.request),
        changeContext(rc),
      );
      return noContent({ ETag: etag });
    },
  }),
);

app.http(
  'users-password-remove',
  endpoint({
    route: 'manage/users/{username}/password',
    methods: ['DELETE'],
    handler: async (rc) => {
      await freshForAdminChange(rc, usernameParam(rc));
      const etag = await rc.services.users.removePassword(
        usernameParam(rc),
        ifMatch(rc.request),
        changeContext(rc),
      );
      return noContent({ ETag: etag });
    },
  }),
);

app.http(
  'users-binding-remove',
  endpoint({
    route: 'manage/users/{username}/binding',
    methods: ['DELETE'],
    handler: async (rc) => {
      await freshForAdminChange(rc, usernameParam(rc));
      const etag = await rc.services.users.removeBinding(
        usernameParam(rc),
        ifMatch(rc.request),
        changeContext(rc),
      );
      return noContent({ ETag: etag });
    },
  }),
);

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
