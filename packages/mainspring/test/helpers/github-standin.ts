import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A small stand-in for GitHub's OAuth app endpoints on 127.0.0.1, answering
 * as GitHub documents them: `/login/oauth/authorize` redirects back with a
 * code (the user "approves" at once), `/login/oauth/access_token` exchanges
 * it (checking client, secret, redirect URI and the PKCE verifier; errors
 * come with status 200 and an `error` field, as GitHub's do), `/user` and
 * `/user/emails` answer for the token's user.
 */

export interface GithubUser {
  login: string;
  id: number;
  name: string | null;
  /** The public email of `/user`: GitHub does not say whether it is verified. */
  email: string | null;
  emails: { email: string; primary: boolean; verified: boolean; visibility: string | null }[];
}

export interface GithubStandIn {
  base: string;
  host: string;
  /** The login the next authorization signs in as. */
  as: string;
  close(): Promise<void>;
}

export async function startGithub(client: { id: string; secret: string }, users: GithubUser[]): Promise<GithubStandIn> {
  const codes = new Map<string, { login: string; redirect: string; challenge: string; client: string }>();
  const tokens = new Map<string, string>();
  const state: GithubStandIn = { base: '', host: '', as: users[0]?.login ?? '', close: async () => {} };
  const json = (res: import('node:http').ServerResponse, status: number, body: unknown) =>
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', state.base);
    if (req.method === 'GET' && url.pathname === '/login/oauth/authorize') {
      const code = randomBytes(10).toString('hex');
      const redirect = url.searchParams.get('redirect_uri') ?? '';
      codes.set(code, {
        login: state.as,
        redirect,
        challenge: url.searchParams.get('code_challenge') ?? '',
        client: url.searchParams.get('client_id') ?? '',
      });
      const back = new URL(redirect);
      back.searchParams.set('code', code);
      back.searchParams.set('state', url.searchParams.get('state') ?? '');
      res.writeHead(302, { location: back.toString() }).end();
      return;
    }
    if (req.method === 'POST' && url.pathname === '/login/oauth/access_token') {
      let body = '';
      req.on('data', (c) => {
        body += c;
      });
      req.on('end', () => {
        const form = new URLSearchParams(body);
        const grant = codes.get(form.get('code') ?? '');
        codes.delete(form.get('code') ?? '');
        if (form.get('client_id') !== client.id || form.get('client_secret') !== client.secret) {
          return json(res, 200, {
            error: 'incorrect_client_credentials',
            error_description: 'The client_id and/or client_secret passed are incorrect.',
          });
        }
        const verifier = form.get('code_verifier') ?? '';
        const challenge = createHash('sha256').update(verifier).digest('base64url');
        if (
          !grant ||
          grant.client !== client.id ||
          grant.redirect !== form.get('redirect_uri') ||
          (grant.challenge !== '' && grant.challenge !== challenge)
        ) {
          return json(res, 200, { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' });
        }
        const token = `gho_${randomBytes(12).toString('hex')}`;
        tokens.set(token, grant.login);
        return json(res, 200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
      });
      return;
    }
    const login = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    const user = users.find((u) => u.login === login);
    if (!user) return json(res, 401, { message: 'Bad credentials' });
    if (url.pathname === '/user') {
      const { emails: _e, ...profile } = user;
      return json(res, 200, { ...profile, avatar_url: '', html_url: `https://github.com/${user.login}` });
    }
    if (url.pathname === '/user/emails') return json(res, 200, user.emails);
    json(res, 404, { message: 'Not Found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  state.host = `127.0.0.1:${port}`;
  state.base = `http://${state.host}`;
  state.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return state;
}
