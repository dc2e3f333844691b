import { spawn } from 'node:child_process';

/** A child process that failed: its exit code (null when it could not start) and the last line it wrote to stderr. */
export class ChildProcessError extends Error {
  constructor(
    readonly command: string,
    readonly exitCode: number | null,
    readonly stderr: string,
    readonly spawnCode?: string,
  ) {
    super(stderr.trim().split('\n').pop() || (spawnCode ? `${command}: ${spawnCode}` : `exit code ${exitCode}`));
  }
}

/**
 * Runs a program to its end (the engines' backup tools: `pg_dump`, a Node
 * script over the SQLite file); resolves with what it printed, rejects with a
 * {@link ChildProcessError}. The environment is the server's plus `env`.
 */
export function runChild(command: string, args: string[], env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', (e: NodeJS.ErrnoException) => reject(new ChildProcessError(command, null, e.message, e.code ?? 'spawn failed')));
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new ChildProcessError(command, code, err))));
  });
}
