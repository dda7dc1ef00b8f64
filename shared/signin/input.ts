/** What a sign-in flow gets of the browser's request besides its form: who asked, and the username as typed. */

export interface RequestInfo {
  clientAddress: string;
  correlationId: string;
}

export const USERNAME_MAX = 256;

/** Usernames are compared trimmed and lower-case, whatever the sign-in page sent. */
export function normaliseUsername(raw: string | null | undefined): string {
  return (raw ?? '').trim().toLowerCase();
}
