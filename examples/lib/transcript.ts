import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { userEnv } from '../../packages/mainspring/test/helpers/processes.js';

/**
 * A README read as a transcript: its fenced `sh` blocks are commands to run
 * in order in one shell, and its complete `js` blocks (those that start with
 * an `import`) programs to run with node at that point. Conventions the
 * examples' READMEs follow:
 *
 * - Comment lines right after a command (no blank line between) are what
 *   it prints; `#  ` (two spaces) continues the line above; `…` stands for
 *   anything, within a line or as a line of its own (any number of lines),
 *   and a record id (15 characters of a-z and 0-9) for any id. Comments
 *   after a blank line, or first in a block, are prose.
 * - A command whose trailing comment says `keeps running` is a server: it
 *   starts apart (a first terminal), and the transcript goes on once it has
 *   printed its address.
 */

/** One thing to do, in the README's order. */
export type Step =
  | { kind: 'shell'; script: string; line: number }
  | { kind: 'expect'; script: string; expected: string[]; line: number }
  | { kind: 'background'; command: string; line: number }
  | { kind: 'node'; source: string; line: number };

/** The steps of a README, from its `sh` and complete `js` blocks. */
export function transcriptSteps(markdown: string): Step[] {
  const steps: Step[] = [];
  for (const block of markdown.matchAll(/^```(sh|js)\n([\s\S]*?)^```$/gm)) {
    const line = markdown.slice(0, block.index).split('\n').length + 1;
    const [, lang, body] = block as unknown as [string, string, string];
    if (lang === 'js') {
      if (body.startsWith('import ')) steps.push({ kind: 'node', source: body, line });
      continue;
    }
    steps.push(...shellSteps(body, line));
  }
  return steps;
}

function shellSteps(body: string, first: number): Step[] {
  const steps: Step[] = [];
  const lines = body.replace(/\n$/, '').split('\n');
  let pending: string[] = [];
  let pendingLine = first;
  const flush = () => {
    if (pending.some((l) => l.trim() && !l.trim().startsWith('#')))
      steps.push({ kind: 'shell', script: pending.join('\n'), line: pendingLine });
    pending = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const text = lines[i] as string;
    if (/#\s*keeps running/.test(text) && !text.trim().startsWith('#')) {
      flush();
      steps.push({ kind: 'background', command: text.replace(/\s+#.*$/, ''), line: first + i });
      pendingLine = first + i + 1;
      continue;
    }
    const isCommand = text.trim() !== '' && !text.trim().startsWith('#');
    const next = lines[i + 1];
    if (isCommand && !text.endsWith('\\') && next?.startsWith('#')) {
      // the command is this line and the continued lines before it; the comments below are what it prints
      let start = pending.length;
      while (start > 0 && (pending[start - 1] as string).endsWith('\\')) start--;
      const command = [...pending.slice(start), text];
      pending = pending.slice(0, start);
      flush();
      const expected: string[] = [];
      let j = i + 1;
      for (; j < lines.length && (lines[j] as string).startsWith('#'); j++) {
        const out = lines[j] as string;
        if (out.startsWith('#  ') && expected.length > 0) expected[expected.length - 1] += out.slice(3);
        else expected.push(out.replace(/^# ?/, ''));
      }
      steps.push({ kind: 'expect', script: command.join('\n'), expected, line: first + i - (command.length - 1) });
      i = j - 1;
      pendingLine = first + j;
      continue;
    }
    if (pending.length === 0) pendingLine = first + i;
    pending.push(text);
  }
  flush();
  return steps;
}

/** A regular expression for one shown line: `…` is anything, an id any id. */
function linePattern(shown: string): RegExp {
  const parts = shown
    .split('…')
    .map((part) =>
      part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/\b(?=[a-z0-9]*\d)(?=[a-z0-9]*[a-z])[a-z0-9]{15}\b/g, '[a-z0-9]{15}'),
    );
  return new RegExp(`^${parts.join('.*')}$`);
}

/** Whether `printed` (its lines, blank ones dropped) is what the README shows. */
export function printedAsShown(printed: string, shown: string[]): boolean {
  const lines = printed
    .replace(/\r/g, '')
    .split('\n')
    .filter((l) => l.trim() !== '');
  const match = (i: number, j: number): boolean => {
    if (j === shown.length) return i === lines.length;
    if (shown[j] === '…') return match(i, j + 1) || (i < lines.length && match(i + 1, j));
    return i < lines.length && linePattern(shown[j] as string).test(lines[i] as string) && match(i + 1, j + 1);
  };
  return match(0, 0);
}

/**
 * A bash session in a folder, as a user's terminal: variables and functions
 * live on from one script to the next. `set -eo pipefail`, so a failing
 * command ends the transcript with its output rather than going on quietly.
 */
export class Shell {
  private readonly bash: ChildProcessWithoutNullStreams;
  private out = '';
  private err = '';
  private count = 0;
  private readonly exited: Promise<number | null>;

  constructor(cwd: string) {
    this.bash = spawn('bash', ['--noprofile', '--norc'], { cwd, env: userEnv(), stdio: 'pipe' });
    this.bash.stdout.on('data', (chunk: Buffer) => {
      this.out += chunk.toString();
    });
    this.bash.stderr.on('data', (chunk: Buffer) => {
      this.err += chunk.toString();
    });
    this.exited = new Promise((done) => this.bash.once('exit', (code) => done(code)));
    this.bash.stdin.write('set -eo pipefail\n');
  }

  /** Runs `script`; resolves with what it printed on stdout. */
  async run(script: string, timeoutMs = 60_000): Promise<string> {
    const marker = `@@done-${++this.count}@@`;
    const from = this.out.length;
    this.bash.stdin.write(`${script}\nprintf '\\n${marker}\\n'\n`);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const at = this.out.indexOf(marker, from);
      if (at >= 0) return this.out.slice(from, at);
      const code = await Promise.race([this.exited, new Promise((done) => setTimeout(() => done(undefined), 50))]);
      if (code !== undefined) throw new Error(`the shell stopped (exit ${code}) in:\n${script}\n${this.out.slice(from)}\n${this.err}`);
      if (Date.now() > deadline) throw new Error(`no end within ${timeoutMs} ms of:\n${script}\n${this.out.slice(from)}\n${this.err}`);
    }
  }

  /** What the session wrote to stderr so far. */
  errors(): string {
    return this.err;
  }

  async close(): Promise<void> {
    this.bash.stdin.end('exit\n');
    await this.exited;
  }
}
