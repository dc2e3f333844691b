import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/**
 * A real SMTP server on 127.0.0.1 that keeps every message it receives, and
 * a small MIME reader (multipart, quoted-printable, base64, encoded words)
 * good enough for the mails nodemailer writes and Mainspring's `.eml` files.
 */

/** One received (or read) mail. */
export interface Mail {
  /** Envelope recipients (lowercased), or the `To` header for a file. */
  to: string[];
  from: string;
  subject: string;
  text: string;
  html: string;
  raw: string;
  /** The SMTP AUTH user the client signed in as, if any. */
  user?: string;
}

export interface MailCatcher {
  port: number;
  mails: Mail[];
  /** Waits for the first mail to `to` not taken yet (and matching `subject`), takes it and returns it. */
  next(to: string, subject?: RegExp, timeoutMs?: number): Promise<Mail>;
  /** Resolves when no mail to `to` has arrived after `ms` milliseconds; throws otherwise. */
  expectNone(to: string, ms?: number): Promise<void>;
  close(): Promise<void>;
}

/** Starts the server; with `credentials`, AUTH is required and checked. */
export async function startMailCatcher(credentials?: { username: string; password: string }): Promise<MailCatcher> {
  const mails: Mail[] = [];
  const taken = new Set<Mail>();
  const server = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    authOptional: !credentials,
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (credentials && auth.username === credentials.username && auth.password === credentials.password) {
        callback(null, { user: auth.username });
      } else callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const mail = parseMail(Buffer.concat(chunks).toString('utf8'));
        mail.to = session.envelope.rcptTo.map((r) => r.address.toLowerCase());
        if (typeof session.user === 'string') mail.user = session.user;
        mails.push(mail);
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;

  const find = (to: string, subject?: RegExp) =>
    mails.find((m) => !taken.has(m) && m.to.includes(to.toLowerCase()) && (!subject || subject.test(m.subject)));

  return {
    port,
    mails,
    async next(to, subject, timeoutMs = 5000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const m = find(to, subject);
        if (m) {
          taken.add(m);
          return m;
        }
        if (Date.now() > until) throw new Error(`no mail to ${to}${subject ? ` matching ${subject}` : ''} within ${timeoutMs} ms`);
        await sleep(15);
      }
    },
    async expectNone(to, ms = 400) {
      await sleep(ms);
      const m = find(to);
      if (m) throw new Error(`unexpected mail to ${to}: ${m.subject}`);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------- MIME

interface Part {
  headers: Map<string, string>;
  body: string;
}

function splitPart(raw: string): Part {
  const normalized = raw.replace(/\r\n/g, '\n');
  const cut = normalized.indexOf('\n\n');
  const head = cut < 0 ? normalized : normalized.slice(0, cut);
  const body = cut < 0 ? '' : normalized.slice(cut + 2);
  const headers = new Map<string, string>();
  for (const line of head.replace(/\n[ \t]+/g, ' ').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
  }
  return { headers, body };
}

function param(header: string, name: string): string | undefined {
  const m = new RegExp(`${name}="?([^";]+)"?`, 'i').exec(header);
  return m?.[1];
}

function decodeQuotedPrintable(s: string): string {
  const bytes: number[] = [];
  const text = s.replace(/=\n/g, '');
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (ch === '=' && /^[0-9A-Fa-f]{2}$/.test(text.slice(i + 1, i + 3))) {
      bytes.push(Number.parseInt(text.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(...Buffer.from(ch, 'utf8'));
  }
  return Buffer.from(bytes).toString('utf8');
}

function decodeWords(s: string): string {
  return s.replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=\s*/g, (_w, _charset, enc: string, data: string) =>
    enc.toUpperCase() === 'B' ? Buffer.from(data, 'base64').toString('utf8') : decodeQuotedPrintable(data.replace(/_/g, ' ')),
  );
}

function decodeBody(part: Part): string {
  const encoding = (part.headers.get('content-transfer-encoding') ?? '').toLowerCase();
  if (encoding === 'base64') return Buffer.from(part.body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (encoding === 'quoted-printable') return decodeQuotedPrintable(part.body);
  return part.body;
}

function collect(part: Part, out: { text: string; html: string }): void {
  const type = part.headers.get('content-type') ?? 'text/plain';
  if (/^multipart\//i.test(type)) {
    const boundary = param(type, 'boundary');
    if (!boundary) return;
    const pieces = part.body.split(`--${boundary}`);
    for (const piece of pieces.slice(1)) {
      if (piece.startsWith('--')) break;
      collect(splitPart(piece.replace(/^\n/, '')), out);
    }
    return;
  }
  if (/^text\/html/i.test(type)) out.html += decodeBody(part);
  else if (/^text\/plain/i.test(type)) out.text += decodeBody(part);
}

/** Reads a raw RFC 5322 message. */
export function parseMail(raw: string): Mail {
  const top = splitPart(raw);
  const out = { text: '', html: '' };
  collect(top, out);
  return {
    to: (top.headers.get('to') ?? '')
      .split(',')
      .map((a) => (/<([^>]+)>/.exec(a)?.[1] ?? a).trim().toLowerCase())
      .filter(Boolean),
    from: top.headers.get('from') ?? '',
    subject: decodeWords(top.headers.get('subject') ?? ''),
    text: out.text,
    html: out.html,
    raw,
  };
}

/** The token at the end of a `{APP_URL}/_/#/auth/{action}/{TOKEN}` link in a mail's HTML (or text). */
export function linkToken(mail: Mail, appURL: string, action: string): string {
  const escaped = `${appURL}/_/#/auth/${action}/`.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  const m = new RegExp(`${escaped}([A-Za-z0-9_.-]+)`).exec(mail.html) ?? new RegExp(`${escaped}([A-Za-z0-9_.-]+)`).exec(mail.text);
  if (!m) throw new Error(`no ${action} link in mail "${mail.subject}":\n${mail.html || mail.text}`);
  return m[1] as string;
}
