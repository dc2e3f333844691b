import { formatDate } from '../../dates.js';
import { outbound } from './http.js';
import { ProviderError, str, type TokenSet } from './provider.js';

export interface CodeExchange {
  tokenURL: string;
  code: string;
  redirectURL: string;
  clientId: string;
  clientSecret: string;
  /** '' when PKCE is off. */
  codeVerifier: string;
  trusted: readonly string[];
}

/**
 * The authorization code exchanged at the token endpoint (RFC 6749 §4.1.3,
 * with RFC 7636's verifier). The provider's refusal (`invalid_grant` for a
 * bad, used or expired code, or one issued to another client) becomes a
 * {@link ProviderError} naming its error code, never its whole answer.
 */
export async function exchangeCode(x: CodeExchange): Promise<TokenSet> {
  const form = new URLSearchParams({
    grant_type: 'authorization_code',
    code: x.code,
    redirect_uri: x.redirectURL,
    client_id: x.clientId,
    client_secret: x.clientSecret,
  });
  if (x.codeVerifier !== '') form.set('code_verifier', x.codeVerifier);
  const answer = await outbound(x.tokenURL, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: form.toString(),
    trusted: x.trusted,
    maxBytes: 256 * 1024,
  });
  const text = answer.body.toString('utf8');
  let raw: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(text);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) raw = parsed as Record<string, unknown>;
  } catch {
    // some providers (GitHub without Accept) answer a form
    raw = Object.fromEntries(new URLSearchParams(text));
  }
  const error = str(raw.error);
  if (error !== '' || answer.status < 200 || answer.status > 299) {
    const code = /^[\w.-]{1,60}$/.test(error) ? error : `status ${answer.status}`;
    throw new ProviderError(`the provider refused the code (${code})`);
  }
  const accessToken = str(raw.access_token);
  if (accessToken === '') throw new ProviderError('the provider sent no access token');
  const seconds = Number(raw.expires_in);
  return {
    accessToken,
    refreshToken: str(raw.refresh_token),
    expiry: Number.isFinite(seconds) && seconds > 0 ? formatDate(new Date(Date.now() + seconds * 1000)) : '',
    idToken: str(raw.id_token),
    raw,
  };
}
