import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createServer } from 'node:net';

/**
 * Commands run as a user would run them: programs that serve in their own
 * process group (a `npm start` is npm, a shell and the server: stopping the
 * group stops all three), with their output kept for the failure message.
 */

/** A port nothing listens on at the moment (the system picks it). */
export async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
  const port = (probe.address() as { port: number }).port;
  await new Promise((done) => probe.close(done));
  return port;
}

/**
 * The environment of a user's shell: this process's, without what npm and
 * Vitest add for the run they started (`npm_lifecycle_*`, `npm_package_*`,
 * `INIT_CWD`, `NODE_OPTIONS`, `VITEST*`), which would make a nested npm or
 * node think it runs inside this repository's scripts. npm's own settings
 * (`npm_config_*`: the cache, the registry, `nodedir` for native builds) stay.
 */
export function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_(lifecycle|package|command|execpath|node_execpath)/i.test(key)) continue;
    if (key === 'INIT_CWD' || key === 'NODE_OPTIONS' || key.startsWith('VITEST')) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

/** What a finished command printed. */
export interface Ran {
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; a failure's message carries what it printed. */
export function run(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number; input?: string },
): Promise<Ran> {
  return new Promise((done, fail) => {
    const child = execFile(
      command,
      args,
      { cwd: options.cwd, env: options.env ?? userEnv(), timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 << 20 },
      (err, stdout, stderr) => {
        if (!err) return done({ stdout, stderr });
        const tail = (text: string) => text.split('\n').slice(-40).join('\n');
        fail(new Error(`${command} ${args.join(' ')} failed (${err.code ?? err.signal}):\n${tail(stdout)}\n${tail(stderr)}`));
      },
    );
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** A command left running (a server), in a process group of its own. */
export interface Program {
  readonly child: ChildProcess;
  /** Everything it wrote so far, stdout and stderr interleaved. */
  output(): string;
  /** Resolves once its output holds `text`; fails if it exits or `timeoutMs` passes first. */
  waitFor(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /** SIGTERM to the whole group, then waits for it to exit (SIGKILL after 10 s). */
  stop(): Promise<void>;
}

const running = new Set<Program>();

/** Starts `command` in a new process group; {@link stopPrograms} ends whatever a test left running. */
export function startProgram(command: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }): Program {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? userEnv(), detached: true, stdio: 'pipe' });
  child.stdin.end();
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    out += chunk.toString();
    for (const listener of listeners) listener();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const program: Program = {
    child,
    output: () => out,
    waitFor(text, timeoutMs = 60_000) {
      const seen = () => (typeof text === 'string' ? out.includes(text) : text.test(out));
      if (seen()) return Promise.resolve();
      return new Promise((done, fail) => {
        const finish = (err?: Error) => {
          listeners.delete(check);
          clearTimeout(timer);
          child.off('exit', onExit);
          if (err) fail(err);
          else done();
        };
        const check = () => seen() && finish();
        const onExit = (code: number | null) => finish(new Error(`${command} exited (${code}) before printing ${text}:\n${out}`));
        const timer = setTimeout(() => finish(new Error(`${command} did not print ${text} within ${timeoutMs} ms:\n${out}`)), timeoutMs);
        listeners.add(check);
        child.once('exit', onExit);
      });
    },
    async stop() {
      running.delete(program);
      if (child.exitCode !== null || child.signalCode !== null) return;
      const kill = (signal: NodeJS.Signals) => {
        try {
          process.kill(-(child.pid as number), signal);
        } catch {
          // the group is gone already
        }
      };
      kill('SIGTERM');
      const killer = setTimeout(() => kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    },
  };
  running.add(program);
  return program;
}

/** Stops every program started and not stopped yet (for `afterAll`). */
export async function stopPrograms(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop()));
}
