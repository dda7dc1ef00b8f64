/**
 * Two rules of oidc-provider that the broker's applications need otherwise, each adjusted once on
 * the provider instance (never by rewriting a request), so every way an authorization request
 * arrives (GET, form POST, pushed with PAR) is treated the same:
 *
 * - `offline_access` gets a refresh token without `prompt=consent`. The library drops the scope
 *   unless the request's prompt contains `consent` (OIDC Core 11 requires it "unless other
 *   conditions for processing the request permitting offline access are in place"); here they are:
 *   applications are registered by an admin, and the broker shows no consent page. Only the
 *   library's scope check asks `prompts.has('consent')` (the policy has no consent prompt check), so
 *   the authorization's prompts answer yes to that one question while their values (what
 *   `prompt=none` must be alone with, what an interaction records) stay the request's own.
 * - `sid` is in every ID token (and every code and refresh token, which carry it on), not only for
 *   clients registered for back-channel logout with the session required: an application can always
 *   match a logout token to the session it signed in with.
 */
type Provider = import('oidc-provider').default;

/** Prompt values that also answer `has('consent')` when the request asks for offline access. */
class OfflinePrompts extends Set<string> {
  override has(value: string): boolean {
    return value === 'consent' || super.has(value);
  }
}

interface ContextLike {
  params?: { scope?: unknown };
}

export function adjustProvider(provider: Provider): void {
  const contextProto = (provider as unknown as { OIDCContext: { prototype: object } }).OIDCContext.prototype;
  const prompts = Object.getOwnPropertyDescriptor(contextProto, 'prompts')?.get;
  if (!prompts) throw new Error('oidc-provider: OIDCContext.prompts not found');
  Object.defineProperty(contextProto, 'prompts', {
    configurable: true,
    get(this: ContextLike) {
      const values = prompts.call(this) as Set<string>;
      const scope = this.params?.scope;
      if (typeof scope !== 'string' || !scope.split(' ').includes('offline_access')) return values;
      return new OfflinePrompts(values);
    },
  });

  const clientProto = (provider as unknown as { Client: { prototype: { includeSid(): boolean } } }).Client
    .prototype;
  clientProto.includeSid = () => true;
}
