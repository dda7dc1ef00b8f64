/**
 * Whether Microsoft Entra can fetch an issuer's discovery document and JWKS: Entra reads them over
 * the public internet with HTTPS, so a broker whose public address is local (localhost, a loopback
 * or private address, a single-label or `.local`/`.internal` name) or plain http cannot be its own
 * federated credential's issuer there. Said before the activation test, so an admin does not have to
 * decode AADSTS50166. The local Entra stand-in takes loopback issuers; real Entra never does.
 */
import { isIP } from 'node:net';

export type IssuerReachProblem = 'not_https' | 'local_host' | 'private_address';

export interface IssuerReach {
  /** True when nothing in the address itself keeps Entra from reaching it. */
  publiclyReachable: boolean;
  problem?: IssuerReachProblem;
  message?: string;
}

const LOCAL_SUFFIXES = ['.localhost', '.local', '.internal', '.lan', '.home.arpa', '.intranet', '.corp'];

function privateIpv4(ip: string): boolean {
  const [a = 0, b = 0] = ip.split('.').map(Number);
  return (
    a === 10 ||
    a === 127 ||
    a === 0 ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 169 && b === 254) ||
    (a === 100 && b >= 64 && b <= 127)
  );
}

function privateIpv6(ip: string): boolean {
  const v = ip.toLowerCase();
  if (v === '::1' || v === '::') return true;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(v);
  if (mapped?.[1]) return privateIpv4(mapped[1]);
  return /^f[cd]/.test(v) || /^fe[89ab]/.test(v);
}

export function issuerReach(issuer: string): IssuerReach {
  let url: URL;
  try {
    url = new URL(issuer);
  } catch {
    return { publiclyReachable: false, problem: 'local_host', message: 'The issuer is not a URL.' };
  }
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  const kind = isIP(host);
  if (kind === 4 ? privateIpv4(host) : kind === 6 ? privateIpv6(host) : false) {
    return {
      publiclyReachable: false,
      problem: 'private_address',
      message: `BROKER_PUBLIC_BASE_URL is a loopback or private address (${host}): Entra cannot fetch the broker's discovery document and keys from it, so it will refuse the assertion (AADSTS50166). Use the broker's public https address.`,
    };
  }
  if (
    kind === 0 &&
    (host === 'localhost' || !host.includes('.') || LOCAL_SUFFIXES.some((s) => host.endsWith(s)))
  ) {
    return {
      publiclyReachable: false,
      problem: 'local_host',
      message: `BROKER_PUBLIC_BASE_URL names a local host (${host}): Entra cannot fetch the broker's discovery document and keys from it, so it will refuse the assertion (AADSTS50166). Use the broker's public https address.`,
    };
  }
  if (url.protocol !== 'https:') {
    return {
      publiclyReachable: false,
      problem: 'not_https',
      message:
        'BROKER_PUBLIC_BASE_URL is not https: Entra only reads an issuer over HTTPS. Use the broker’s public https address.',
    };
  }
  return { publiclyReachable: true };
}
