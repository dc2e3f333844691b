import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';

/**
 * A real OpenID provider (`oidc-provider`) on 127.0.0.1 for the OAuth2
 * tests, with its development login and consent pages, which
 * {@link authorize} drives over HTTP as a browser would: follow the
 * redirects, keep the cookies, post the forms.
 */

export interface OidcAccount {
  sub: string;
  email: string;
  email_verified: boolean;
  name: string;
  preferred_username: string;
  picture?: string;
}

export interface OidcClient {
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
}

export interface TestOidc {
  issuer: string;
  host: string;
  accounts: Map<string, OidcAccount>;
  close(): Promise<void>;
}

export async function startOidc(clients: OidcClient[], accounts: OidcAccount[]): Promise<TestOidc> {
  const byId = new Map(accounts.map((a) => [a.sub, a]));
  const http: Server = createServer();
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const port = (http.address() as AddressInfo).port;
  const issuer = `http://127.0.0.1:${port}`;
  const provider = new Provider(issuer, {
    clients: clients.map((c) => ({
      ...c,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
    })),
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name', 'preferred_username', 'picture'] },
    cookies: { keys: ['test-cookie-key-0123456789'] },
    pkce: { required: () => false },
    features: { devInteractions: { enabled: true } },
    async findAccount(_ctx: unknown, id: string) {
      const account = byId.get(id);
      if (!account) return undefined;
      return { accountId: id, claims: async () => ({ ...account }) };
    },
  });
  const callback = provider.callback();
  http.on('request', callback);
  return {
    issuer,
    host: `127.0.0.1:${port}`,
    accounts: byId,
    close: () => new Promise<void>((resolve) => http.close(() => resolve())),
  };
}

/** What the provider sent back to the redirect URL. */
export interface Authorized {
  code: string;
  state: string;
  error: string;
  /** The redirect as the provider made it. */
  location: string;
}

/**
 * Opens `authURL` as a browser would and signs in as `account` on the
 * provider's login page, then grants consent (or, with `deny`, aborts the
 * interaction: the provider answers `access_denied`). Stops at the first
 * redirect to `redirectPrefix` and reads it.
 */
export async function authorize(authURL: string, redirectPrefix: string, account: string, deny = false): Promise<Authorized> {
  const jar = new Map<string, string>();
  const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const keep = (res: Response) => {
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      jar.set(pair.slice(0, eq).trim(), pair.slice(eq + 1).trim());
    }
  };
  let url = authURL;
  let method = 'GET';
  let body: string | undefined;
  for (let step = 0; step < 20; step++) {
    if (url.startsWith(redirectPrefix)) {
      const u = new URL(url);
      const get = (k: string) => u.searchParams.get(k) ?? '';
      return { code: get('code'), state: get('state'), error: get('error'), location: url };
    }
    const headers: Record<string, string> = { cookie: cookie() };
    if (body) headers['content-type'] = 'application/x-www-form-urlencoded';
    const res = await fetch(url, { method, headers, body, redirect: 'manual' });
    keep(res);
    const location = res.headers.get('location');
    if (location) {
      url = new URL(location, url).toString();
      method = 'GET';
      body = undefined;
      continue;
    }
    const html = await res.text();
    if (res.status !== 200 || !url.includes('/interaction/'))
      throw new Error(`unexpected page ${res.status} at ${url}: ${html.slice(0, 300)}`);
    // the development interaction: a login form, then a consent form
    const uid = new URL(url).pathname.split('/')[2] as string;
    if (deny && !html.includes('name="login"')) {
      url = new URL(`/interaction/${uid}/abort`, url).toString();
      continue;
    }
    method = 'POST';
    body = html.includes('name="login"')
      ? new URLSearchParams({ prompt: 'login', login: account, password: 'any' }).toString()
      : new URLSearchParams({ prompt: 'consent' }).toString();
  }
  throw new Error('too many steps at the provider');
}

/** Turns OAuth2 on for `users` with `op` as its `oidc` provider (client `ms-app`), trusting `hosts` and allowing `redirect`. */
export async function useOidc(
  request: (m: string, p: string, o?: { body?: unknown; token?: string }) => Promise<{ status: number; body: any }>,
  admin: string,
  op: TestOidc,
  redirect: string,
  hosts: string[] = [],
  mappedFields: Record<string, string> = {},
): Promise<void> {
  const settings = await request('PATCH', '/api/settings', {
    token: admin,
    body: { oauth2: { redirectURLs: [redirect], trustedHosts: [op.host, ...hosts] } },
  });
  if (settings.status !== 200) throw new Error(`settings: ${JSON.stringify(settings.body)}`);
  const res = await request('PATCH', '/api/collections/users', {
    token: admin,
    body: {
      oauth2: {
        enabled: true,
        mappedFields,
        providers: [
          { name: 'oidc', clientId: 'ms-app', clientSecret: 'ms-app-secret', displayName: 'Test OP', extra: { issuer: op.issuer } },
        ],
      },
    },
  });
  if (res.status !== 200) throw new Error(`collection: ${JSON.stringify(res.body)}`);
}
