/**
 * Client side of `npm run bench`: one cookie jar per origin (like a browser), the full sign-in of a
 * returning Entra user at the broker and at the Auth.js app (page + start + IdP + callback), each leg
 * timed, and small statistics helpers.
 */
export class Jar {
  private readonly cookies = new Map<string, string>();
  store(res: Response) {
    for (const line of res.headers.getSetCookie()) {
      const pair = line.split(';')[0] ?? '';
      const i = pair.indexOf('=');
      const value = pair.slice(i + 1).trim();
      if (value === '' || /max-age=0/i.test(line) || /expires=Thu, 01 Jan 1970/i.test(line)) {
        this.cookies.delete(pair.slice(0, i).trim());
      } else this.cookies.set(pair.slice(0, i).trim(), value);
    }
  }
  get header() {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

export const ms = (t0: number) => performance.now() - t0;

export function pct(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

/** Runs `count` jobs with at most `limit` at once. */
export async function pool(count: number, limit: number, job: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      await job(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
}

/** The Entra stand-in's login form, driven with fetch; returns the app's callback URL. */
export async function standInLogin(authorizeUrl: string, account: string, callbackPrefix: string) {
  const idp = new Jar();
  let url = authorizeUrl;
  for (let hop = 0; hop < 10; hop++) {
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: idp.header } });
    idp.store(res);
    if (res.status === 200) {
      const action = /<form method="post" action="([^"]+)"/.exec(await res.text())?.[1];
      if (!action) throw new Error('no login form at the stand-in');
      const post = await fetch(new URL(action.replace(/&amp;/g, '&'), url), {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: idp.header, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ login: account, password: 'any password' }),
      });
      await post.arrayBuffer();
      idp.store(post);
      url = new URL(post.headers.get('location') ?? '', url).href;
      continue;
    }
    await res.arrayBuffer();
    const location = res.headers.get('location');
    if (!location) throw new Error(`stand-in answered ${res.status} without a redirect`);
    url = new URL(location, url).href;
    if (url.startsWith(callbackPrefix)) return url;
  }
  throw new Error('too many redirects at the stand-in');
}

export interface SignInTiming {
  page: number;
  start: number;
  idp: number;
  callback: number;
  full: number;
}

/** Legs of one sign-in; `measure` wraps each server leg (the bench counts Table requests with it). */
export type LegHook = <T>(leg: 'page' | 'start' | 'callback', run: () => Promise<T>) => Promise<T>;
const noHook: LegHook = (_leg, run) => run();

const retryPause = () => new Promise((r) => setTimeout(r, 20 + Math.random() * 80));

/** Counts retries after a 429 (contention on the broker's per-address counter row). */
export const retries = { count: 0 };

async function withRetry(send: () => Promise<Response>, ok: number): Promise<Response> {
  for (let attempt = 0; ; attempt++) {
    const res = await send();
    if (res.status === 429 && attempt < 10) {
      await res.arrayBuffer();
      retries.count++;
      await retryPause();
      continue;
    }
    if (res.status !== ok) {
      const text = await res.text();
      const reason = /<div class="alert" role="alert"><p>([^<]*)/.exec(text)?.[1] ?? text.slice(0, 200);
      throw new Error(`${res.url} answered ${res.status} (expected ${ok}) ${reason}`);
    }
    return res;
  }
}

/** Broker: GET /api/auth/login, POST /api/auth/login, stand-in, GET /api/auth/callback. */
export async function brokerSignIn(base: string, username: string, hook: LegHook = noHook) {
  const jar = new Jar();
  const t0 = performance.now();
  await hook('page', async () => {
    const res = await fetch(`${base}/api/auth/login`, { redirect: 'manual' });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`sign-in page answered ${res.status}`);
    jar.store(res);
  });
  const tPage = ms(t0);
  const t1 = performance.now();
  const location = await hook('start', async () => {
    const res = await withRetry(
      () =>
        fetch(`${base}/api/auth/login`, {
          method: 'POST',
          redirect: 'manual',
          headers: {
            origin: base,
            'content-type': 'application/x-www-form-urlencoded',
            ...(jar.header ? { cookie: jar.header } : {}),
          },
          body: new URLSearchParams({ username }),
        }),
      302,
    );
    await res.arrayBuffer();
    jar.store(res);
    return res.headers.get('location') as string;
  });
  const tStart = ms(t1);
  const t2 = performance.now();
  const callbackUrl = await standInLogin(location, username, `${base}/api/auth/callback`);
  const tIdp = ms(t2);
  const t3 = performance.now();
  await hook('callback', async () => {
    const res = await withRetry(
      () => fetch(callbackUrl, { redirect: 'manual', headers: { cookie: jar.header } }),
      302,
    );
    await res.arrayBuffer();
    jar.store(res);
  });
  const tCallback = ms(t3);
  const timing: SignInTiming = { page: tPage, start: tStart, idp: tIdp, callback: tCallback, full: ms(t0) };
  return { timing, jar };
}

/** Auth.js: GET /auth/signin (CSRF token), POST /auth/signin/microsoft-entra-id, stand-in, callback. */
export async function authJsSignIn(base: string, account: string) {
  const jar = new Jar();
  const t0 = performance.now();
  const pageRes = await fetch(`${base}/auth/signin`, { redirect: 'manual' });
  const html = await pageRes.text();
  jar.store(pageRes);
  const csrfToken = /name="csrfToken" value="([^"]+)"/.exec(html)?.[1];
  if (pageRes.status !== 200 || !csrfToken)
    throw new Error(`Auth.js sign-in page answered ${pageRes.status}`);
  const tPage = ms(t0);
  const t1 = performance.now();
  const start = await fetch(`${base}/auth/signin/microsoft-entra-id`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie: jar.header, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ csrfToken, callbackUrl: `${base}/` }),
  });
  await start.arrayBuffer();
  jar.store(start);
  const location = start.headers.get('location') ?? '';
  if (start.status !== 302 || !location.includes('/oauth2/v2.0/authorize')) {
    throw new Error(`Auth.js start answered ${start.status} → ${location}`);
  }
  const tStart = ms(t1);
  const t2 = performance.now();
  const callbackUrl = await standInLogin(location, account, `${base}/auth/callback`);
  const tIdp = ms(t2);
  const t3 = performance.now();
  const cb = await fetch(callbackUrl, { redirect: 'manual', headers: { cookie: jar.header } });
  await cb.arrayBuffer();
  jar.store(cb);
  const to = cb.headers.get('location') ?? '';
  if (cb.status !== 302 || to.includes('error'))
    throw new Error(`Auth.js callback answered ${cb.status} → ${to}`);
  const tCallback = ms(t3);
  const timing: SignInTiming = { page: tPage, start: tStart, idp: tIdp, callback: tCallback, full: ms(t0) };
  return { timing, jar };
}

/** A registered application of the broker's OpenID Provider, as the bench drives it. */
export interface BenchClient {
  clientId: string;
  clientSecret: string;
  redirectUri: string;
}

/**
 * An application's sign-in through the broker for a browser that already has a broker session (single
 * sign-on): GET /api/oidc/auth (PKCE S256, state, nonce) → the broker's login step finishes the
 * interaction at once → the app's redirect URI with a code → POST /api/oidc/token. Broker side only:
 * the app's own server is not involved (its redirect URI is read from the Location header).
 */
export async function appSignIn(
  base: string,
  jar: Jar,
  client: BenchClient,
  /** Each HTTP exchange's start and end (ms from the sign-in's start), for a timeline. */
  marks?: string[],
): Promise<{ ms: number; idToken: string }> {
  const { createHash, randomBytes } = await import('node:crypto');
  const verifier = randomBytes(32).toString('base64url');
  const state = randomBytes(16).toString('base64url');
  const auth = new URL(`${base}/api/oidc/auth`);
  for (const [k, v] of Object.entries({
    client_id: client.clientId,
    redirect_uri: client.redirectUri,
    response_type: 'code',
    scope: 'openid profile email',
    state,
    nonce: randomBytes(16).toString('base64url'),
    code_challenge: createHash('sha256').update(verifier).digest('base64url'),
    code_challenge_method: 'S256',
  }))
    auth.searchParams.set(k, v);
  const t0 = performance.now();
  let url = auth.href;
  let code: string | null = null;
  for (let hop = 0; hop < 10 && !code; hop++) {
    const h0 = ms(t0);
    const res = await fetch(url, { redirect: 'manual', headers: { cookie: jar.header } });
    await res.arrayBuffer();
    marks?.push(`+${h0.toFixed(1)}..+${ms(t0).toFixed(1)} ms GET ${new URL(url).pathname} ${res.status}`);
    jar.store(res);
    const location = res.headers.get('location');
    if (!location) throw new Error(`app sign-in stopped at ${new URL(url).pathname} with ${res.status}`);
    const next = new URL(location, url);
    if (next.href.startsWith(client.redirectUri)) {
      if (next.searchParams.get('state') !== state) throw new Error('app sign-in: state mismatch');
      code = next.searchParams.get('code');
      if (!code) throw new Error(`app sign-in refused: ${next.searchParams.get('error')}`);
    } else url = next.href;
  }
  if (!code) throw new Error('app sign-in: no code after 10 redirects');
  const k0 = ms(t0);
  const token = await fetch(`${base}/api/oidc/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret)}`).toString('base64')}`,
    },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code,
      redirect_uri: client.redirectUri,
      code_verifier: verifier,
    }),
  });
  const body = (await token.json()) as { id_token?: string; error?: string };
  marks?.push(`+${k0.toFixed(1)}..+${ms(t0).toFixed(1)} ms POST /api/oidc/token ${token.status}`);
  if (token.status !== 200 || !body.id_token)
    throw new Error(`token endpoint answered ${token.status} ${body.error ?? ''}`);
  return { ms: ms(t0), idToken: body.id_token };
}

/** A password sign-in at the broker: a new browser (jar) holding a broker session. */
export async function passwordSession(base: string, origin: string, username: string, password: string) {
  const jar = new Jar();
  const res = await withRetry(
    () =>
      fetch(`${base}/api/auth/password`, {
        method: 'POST',
        redirect: 'manual',
        headers: { origin, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ username, password }),
      }),
    303,
  );
  await res.arrayBuffer();
  jar.store(res);
  return jar;
}
