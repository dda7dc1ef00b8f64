/**
 * `npm run demo-app`: a small application on http://localhost:7072 (LOCAL_DEMO_APP_PORT) that signs its users in through the
 * broker's OpenID Provider with openid-client (authorization code + PKCE + state + nonce) and shows the
 * ID token's claims. It reads the demo application `npm start` registered (.local/demo-app.json), so
 * start the broker first. Local development only: one process, sessions in memory, loopback only.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import * as oidc from 'openid-client';
import { type DemoApplication, demoAppOrigin } from './demo.ts';
import { portInUseMessage } from './local-checks.ts';
import { applyLocalSettings } from './local-settings.ts';
import { repoRoot } from './standins/ca.ts';

const settings = applyLocalSettings();
const port = settings.local.LOCAL_DEMO_APP_PORT;
const DEMO_APP_ORIGIN = demoAppOrigin(port);
const redirectUri = `${DEMO_APP_ORIGIN}/callback`;
const postLogoutRedirectUri = `${DEMO_APP_ORIGIN}/`;
const file = path.join(repoRoot, process.env.LOCAL_DATA_DIR || '.local', 'demo-app.json');
let app: DemoApplication;
try {
  app = JSON.parse(readFileSync(file, 'utf8')) as DemoApplication;
} catch {
  console.error(
    `No demo application in ${path.relative(repoRoot, file)}: run \`npm start\` first (it registers one).`,
  );
  process.exit(1);
}

interface Pending {
  verifier: string;
  nonce: string;
}
interface Signed {
  claims: Record<string, unknown>;
  idToken: string;
}
const pending = new Map<string, Pending>();
const sessions = new Map<string, Signed>();

const html = (v: string) =>
  v.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

function page(body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Demo app</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:2rem auto;padding:0 1rem}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top;word-break:break-all}
a.button,button{display:inline-block;background:#0b57d0;color:#fff;border:0;border-radius:.4rem;padding:.6rem 1rem;font:inherit;text-decoration:none;cursor:pointer}</style></head>
<body><h1>Demo app</h1><p>An application on ${html(DEMO_APP_ORIGIN)} that signs in through the broker (${html(app.issuer)}).</p>${body}</body></html>`;
}

function cookieOf(req: http.IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

async function main() {
  // The broker sends the browser back only to a registered redirect URI: say so now, not after sign-in.
  if (new URL(app.redirectUri).origin !== DEMO_APP_ORIGIN) {
    console.warn(
      `The demo application was registered for ${new URL(app.redirectUri).origin}, and LOCAL_DEMO_APP_PORT is ${port}: ` +
        `add ${redirectUri} to its Redirect URIs and ${postLogoutRedirectUri} to its post-logout redirect URIs ` +
        '(console → Applications → Demo app), or set LOCAL_DEMO_APP_PORT back.',
    );
  }
  const config = await oidc.discovery(
    new URL(app.issuer),
    app.clientId,
    app.clientSecret,
    oidc.ClientSecretBasic(app.clientSecret),
    { execute: [oidc.allowInsecureRequests] }, // the local broker is plain http on localhost
  );
  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', DEMO_APP_ORIGIN);
    const send = (status: number, html: string, headers: Record<string, string | string[]> = {}) => {
      res.writeHead(status, {
        'Content-Type': 'text/html; charset=utf-8',
        'Cache-Control': 'no-store',
        ...headers,
      });
      res.end(html);
    };
    try {
      if (url.pathname === '/login') {
        const verifier = oidc.randomPKCECodeVerifier();
        const state = oidc.randomState();
        const nonce = oidc.randomNonce();
        pending.set(state, { verifier, nonce });
        const to = oidc.buildAuthorizationUrl(config, {
          redirect_uri: redirectUri,
          scope: 'openid profile email',
          code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
          code_challenge_method: 'S256',
          state,
          nonce,
          ...(url.searchParams.get('prompt') === 'login' ? { prompt: 'login' } : {}),
        });
        return send(302, '', { Location: to.href });
      }
      if (url.pathname === '/callback') {
        const state = url.searchParams.get('state') ?? '';
        const p = pending.get(state);
        pending.delete(state);
        if (!p)
          return send(
            400,
            page('<p>This sign-in is unknown or was already used. <a href="/">Start again</a>.</p>'),
          );
        if (url.searchParams.get('error')) {
          return send(
            403,
            page(
              `<p>The broker answered <code>${html(url.searchParams.get('error') ?? '')}</code>. <a href="/">Back</a>.</p>`,
            ),
          );
        }
        const tokens = await oidc.authorizationCodeGrant(config, url, {
          pkceCodeVerifier: p.verifier,
          expectedState: state,
          expectedNonce: p.nonce,
          idTokenExpected: true,
        });
        const sid = randomBytes(24).toString('base64url');
        sessions.set(sid, { claims: { ...tokens.claims() }, idToken: tokens.id_token ?? '' });
        return send(303, '', {
          Location: '/',
          'Set-Cookie': `demo_sid=${sid}; Path=/; HttpOnly; SameSite=Lax`,
        });
      }
      const sid = cookieOf(req, 'demo_sid');
      const signed = sid ? sessions.get(sid) : undefined;
      if (url.pathname === '/logout' && req.method === 'POST') {
        if (sid) sessions.delete(sid);
        const to = signed
          ? oidc.buildEndSessionUrl(config, {
              id_token_hint: signed.idToken,
              post_logout_redirect_uri: postLogoutRedirectUri,
            }).href
          : '/';
        return send(303, '', { Location: to, 'Set-Cookie': 'demo_sid=; Path=/; Max-Age=0' });
      }
      if (url.pathname !== '/') return send(404, page('<p>Not found. <a href="/">Home</a>.</p>'));
      if (!signed) {
        return send(
          200,
          page(
            '<p>You are not signed in.</p><p><a class="button" href="/login">Sign in through the broker</a></p>',
          ),
        );
      }
      const rows = Object.entries(signed.claims)
        .map(([k, v]) => `<tr><th scope="row">${html(k)}</th><td>${html(JSON.stringify(v))}</td></tr>`)
        .join('');
      return send(
        200,
        page(`<p>Signed in as <strong>${html(String(signed.claims.preferred_username ?? signed.claims.sub))}</strong>. The ID token's claims, checked by openid-client (signature, iss, aud, nonce):</p>
<table><tbody>${rows}</tbody></table>
<form method="post" action="/logout"><p><button type="submit">Sign out (here and at the broker)</button></p></form>`),
      );
    } catch (err) {
      console.error(err instanceof Error ? err.message : err);
      send(
        502,
        page('<p>The sign-in could not be completed (see the console). <a href="/">Start again</a>.</p>'),
      );
    }
  });
  server.once('error', (err: NodeJS.ErrnoException) => {
    const message =
      err.code === 'EADDRINUSE' ? portInUseMessage('LOCAL_DEMO_APP_PORT', port, settings.file) : err.message;
    console.error(`demo app failed: ${message}`);
    process.exit(1);
  });
  server.listen(port, '127.0.0.1', () => {
    console.log(
      `Demo app on ${DEMO_APP_ORIGIN} — open it in a browser and sign in through the broker (${app.issuer}).`,
    );
  });
}

main().catch((err) => {
  console.error(`demo app failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
