import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The mails a test server "sent": with SMTP off, Mainspring writes each one
 * as an `.eml` file under `<dataDir>/mails/`. Mail work happens after the
 * response, so reading waits (with a deadline) for the file to appear.
 */
export class Mailbox {
  private readonly taken = new Set<string>();

  constructor(private readonly dataDir: string) {}

  private files(): string[] {
    const dir = join(this.dataDir, 'mails');
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((f) => f.endsWith('.eml'))
      .sort();
  }

  /** How many mails were written so far. */
  count(): number {
    return this.files().length;
  }

  /**
   * The first capture of `pattern` in the oldest mail to `to` not taken yet;
   * that mail is then taken. Throws when none arrives within `timeoutMs`.
   */
  async take(to: string, pattern: RegExp, timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      for (const name of this.files()) {
        if (this.taken.has(name)) continue;
        const text = readFileSync(join(this.dataDir, 'mails', name), 'utf8');
        const header = text.slice(0, text.indexOf('\r\n\r\n'));
        const recipient = /^To: (.*)$/m.exec(header)?.[1]?.trim().toLowerCase();
        if (recipient !== to.toLowerCase()) continue;
        const m = pattern.exec(text);
        if (!m?.[1]) continue;
        this.taken.add(name);
        return m[1];
      }
      if (Date.now() > deadline) throw new Error(`no mail to ${to} matching ${pattern} within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** The token or code in each kind of mail. */
export const MAIL = {
  verification: /confirm-verification\/([A-Za-z0-9_.-]+)/,
  passwordReset: /confirm-password-reset\/([A-Za-z0-9_.-]+)/,
  emailChange: /confirm-email-change\/([A-Za-z0-9_.-]+)/,
  otp: /<strong>(\d+)<\/strong>/,
} as const;
