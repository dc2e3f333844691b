import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Transporter } from 'nodemailer';
import type { Logger } from 'pino';
import type { EmailTemplate } from '../collections/model.js';
import type { EventBus } from '../events.js';
import { randomString } from '../ids.js';
import type { Metrics } from '../metrics.js';
import type { Settings, SettingsService } from '../settings.js';

/** One mail to send. */
export interface MailMessage {
  to: string;
  subject: string;
  html: string;
}

/** Escapes text for an HTML mail body. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Replaces `{APP_NAME}`-style placeholders with escaped values. */
export function renderTemplate(template: string, values: Record<string, string>): string {
  return template.replace(/\{([A-Z_]+)\}/g, (whole, key: string) => (key in values ? escapeHtml(values[key] as string) : whole));
}

/** A rough text version of an HTML body, for clients that show no HTML. */
function htmlToText(html: string): string {
  return html
    .replace(/<a [^>]*href="([^"]*)"[^>]*>([^<]*)<\/a>/gi, '$2: $1')
    .replace(/<br\s*\/?>|<\/p>/gi, '\n')
    .replace(/<[^>]+>/g, '')
    .replace(/&#(\d+);/g, (_, n) => String.fromCharCode(Number(n)))
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/**
 * Sends mail the way the settings say: through SMTP (nodemailer, loaded only
 * when SMTP is enabled) or, by default, into `<dataDir>/mails/` as `.eml`
 * files, so a developer can open the link in a verification or reset mail.
 * Log lines name the file, never its content: links in mails are secrets.
 */
export class MailService {
  private transport: Promise<Transporter> | null = null;

  /** Whether one more mail may go to an address (the `*:mail` rate limit, set by the HTTP layer). */
  addressAllowed: ((address: string) => Promise<boolean>) | null = null;

  constructor(
    private readonly settings: SettingsService,
    private readonly dataDir: string,
    private readonly logger: Logger,
    events: EventBus,
    private readonly metrics?: Pick<Metrics, 'mail'>,
  ) {
    events.on((e) => {
      if (e.type === 'settings') this.reset();
    });
  }

  private reset(): void {
    const old = this.transport;
    this.transport = null;
    old?.then((t) => t.close()).catch(() => {});
  }

  private async smtp(s: Settings['smtp']): Promise<Transporter> {
    this.transport ??= import('nodemailer').then((nodemailer) =>
      nodemailer.createTransport({
        host: s.host,
        port: s.port,
        secure: s.tls,
        requireTLS: false,
        ...(s.username ? { auth: { user: s.username, pass: s.password, ...(s.authMethod ? { method: s.authMethod } : {}) } } : {}),
        ...(s.localName ? { name: s.localName } : {}),
        connectionTimeout: 10_000,
        greetingTimeout: 10_000,
        socketTimeout: 20_000,
      }),
    );
    return this.transport;
  }

  /** Renders an auth collection's template (with `{APP_NAME}` and `{APP_URL}` from the settings) and sends it. */
  async sendTemplate(to: string, template: EmailTemplate, values: Record<string, string>): Promise<void> {
    // a flood of mails to one address (anyone may ask for a reset or a code) stops at its limit, silently:
    // the request was answered already, the same whatever happens here
    if (this.addressAllowed && !(await this.addressAllowed(to))) {
      this.logger.warn({ subject: template.subject }, 'mail not sent: the address had its limit of mails (rate limit *:mail)');
      return;
    }
    const meta = this.settings.get().meta;
    const all = { APP_NAME: meta.appName, APP_URL: meta.appURL.replace(/\/+$/, ''), ...values };
    await this.send({ to, subject: renderTemplate(template.subject, all), html: renderTemplate(template.body, all) });
  }

  /** Sends one mail; throws when the SMTP server refuses it. */
  async send(message: MailMessage): Promise<void> {
    try {
      await this.deliver(message);
      this.metrics?.mail(true);
    } catch (err) {
      this.metrics?.mail(false);
      throw err;
    }
  }

  /** Hands the mail to SMTP, or, with SMTP off, saves it as a file in the data directory. */
  private async deliver(message: MailMessage): Promise<void> {
    const s = this.settings.get();
    const from = { name: s.meta.senderName, address: s.meta.senderAddress };
    if (s.smtp.enabled) {
      const transport = await this.smtp(s.smtp);
      await transport.sendMail({ from, to: message.to, subject: message.subject, html: message.html, text: htmlToText(message.html) });
      this.logger.info({ to: message.to, subject: message.subject }, 'mail sent');
      return;
    }
    const dir = join(this.dataDir, 'mails');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}-${randomString(6)}.eml`);
    const headers = [
      `From: "${from.name.replace(/"/g, '')}" <${from.address}>`,
      `To: ${message.to}`,
      `Subject: ${message.subject.replace(/[\r\n]/g, ' ')}`,
      `Date: ${new Date().toUTCString()}`,
      'MIME-Version: 1.0',
      'Content-Type: text/html; charset=utf-8',
    ];
    writeFileSync(file, `${headers.join('\r\n')}\r\n\r\n${message.html}\r\n`, { mode: 0o600 });
    this.logger.info({ to: message.to, subject: message.subject, file }, 'mail saved (SMTP is off): open the file for its link');
  }
}
