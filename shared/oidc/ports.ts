/**
 * What the OpenID Provider reads and writes elsewhere in the broker, narrowed to what it uses: the
 * composition root passes the users and applications services and the audit log in.
 */
import type { AuditEventInput } from '../audit/log.ts';
import type { UserRecord } from '../users/store.ts';

/** What the OP reads of users. */
export interface UserSource {
  getById(id: string): Promise<UserRecord | undefined>;
  getByUsername(username: string): Promise<UserRecord | undefined>;
}

/** What the OP reads of an application (shared/applications/service.ts `clientForProvider`). */
export interface ProviderClientSource {
  clientForProvider(clientId: string): Promise<
    | {
        client_id: string;
        allowedRoles: string[];
        id_token_signed_response_alg?: string;
        backchannelLogoutUri?: string | null;
      }
    | undefined
  >;
}

/** What the OP reads of the registered APIs (shared/apis/service.ts `byResource`). */
export interface ApiSource {
  byResource(resource: string): Promise<
    | {
        resource: string;
        scopes: string[];
        allowedApplications: string[];
        accessTokenLifetimeSeconds: number;
      }
    | undefined
  >;
}

/** Writes an audit event; a failure is logged, never the request's. */
export type AuditRecorder = (event: AuditEventInput) => Promise<unknown>;
