/**
 * Who asks for an admin change, as far as the services care: an API token, or a browser session
 * with the time of its sign-in. The web layer's `Principal` fits this shape as it is, so function
 * files pass it along unchanged and no service needs to know how a request was authenticated.
 */
export type Caller =
  | {
      kind: 'token';
      /** The audit actor. */
      name: string;
      /** The admin the token was made for (`ownerKey`), or null. */
      onBehalfOf: string | null;
    }
  | { kind: 'session'; name: string; username: string; userCreatedAt: string; authTime: number };

/**
 * Identifies one admin account for the tokens made on its behalf: username and creation time, so a
 * token does not come back to life if the account is deleted and another one gets the same name.
 */
export function ownerKey(username: string, userCreatedAt: string): string {
  return `${username}|${userCreatedAt}`;
}
