import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { DockerfileParser } from 'dockerfile-ast';
import { afterAll, describe, expect, test } from 'vitest';
import { parse as parseYaml } from 'yaml';

/**
 * The Dockerfile and compose.yaml, without a Docker engine: both parse; the
 * image is multi-stage, runs as a non-root user, keeps its data in a volume
 * and has a health check; its start command is the README's and serves the
 * API from the repository's layout (the image's); its health check command
 * works against a live server; every variable the image and the compose
 * services set is one the configuration reference documents.
 */

const REPO = resolve(import.meta.dirname, '../../..');
const README = readFileSync(join(REPO, 'README.md'), 'utf8');
const run = promisify(execFile);

/** The environment variables the README's configuration reference lists. */
function documentedVariables(): Set<string> {
  const section = README.slice(README.indexOf('## Configuration reference'));
  const table = section.slice(0, section.indexOf('\n## '));
  return new Set([...table.matchAll(/`((?:MS_|DATABASE_)[A-Z_]+)`/g)].map((m) => m[1] as string));
}

const dockerfile = DockerfileParser.parse(readFileSync(join(REPO, 'Dockerfile'), 'utf8'));
const instructions = dockerfile.getInstructions();
const stages = instructions.flatMap((inst, i) => (inst.getKeyword() === 'FROM' ? [i] : []));
const finalStage = instructions.slice(stages.at(-1));
const final = (keyword: string) => finalStage.filter((i) => i.getKeyword() === keyword);
/** `CMD ["a", "b"]` as its words. */
const execForm = (text: string): string[] => JSON.parse(text.replace(/^(CMD|HEALTHCHECK[^[]*CMD)\s+/s, ''));

const children: ChildProcess[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const child of children) {
    if (child.exitCode !== null) continue;
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGTERM');
    await exited;
  }
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
  const port = (probe.address() as { port: number }).port;
  await new Promise((done) => probe.close(done));
  return port;
}

describe('the Dockerfile', () => {
  test('parses, is multi-stage, runs as a non-root user with a data volume and a health check', () => {
    expect(dockerfile.getComments().length).toBeGreaterThan(0);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(final('COPY').filter((i) => i.getTextContent().includes('--from=build')).length).toBeGreaterThan(0);
    expect(final('USER').map((i) => i.getArgumentsContent() ?? '')).toEqual(['node']);
    expect(final('VOLUME').map((i) => i.getArgumentsContent() ?? '')).toEqual(['/data']);
    expect(final('HEALTHCHECK')).toHaveLength(1);
    expect(final('EXPOSE').map((i) => i.getArgumentsContent() ?? '')).toEqual(['8090']);
  });

  test("starts with the README's command, which serves the API as the image would", async () => {
    const [cmd] = final('CMD');
    const words = execForm(cmd?.getTextContent() ?? '');
    expect(README).toContain(`## Containers`);
    const containers = README.slice(README.indexOf('## Containers'));
    expect(containers).toContain(`\`\`\`sh\n${words.join(' ')}\n\`\`\``);

    // the image's environment, with a free port and a temporary data directory
    const env: Record<string, string> = {};
    for (const inst of final('ENV')) {
      for (const m of (inst.getArgumentsContent() ?? '').matchAll(/([A-Z_]+)=(\S+)/g)) env[m[1] as string] = m[2] as string;
    }
    expect(Object.keys(env).sort()).toEqual(['MS_DATA_DIR', 'MS_HOOKS_DIR', 'MS_HTTP', 'NODE_ENV']);
    const dir = mkdtempSync(join(tmpdir(), 'ms-image-'));
    dirs.push(dir);
    const port = await freePort();
    const [program, ...args] = words;
    expect(program).toBe('node');
    const child = spawn(process.execPath, args, {
      cwd: REPO, // the image's WORKDIR holds packages/mainspring as the repository does
      env: {
        ...process.env,
        ...env,
        MS_HTTP: `127.0.0.1:${port}`,
        MS_DATA_DIR: join(dir, 'data'),
        MS_HOOKS_DIR: join(dir, 'hooks'),
        MS_LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    children.push(child);
    await new Promise<void>((done, fail) => {
      child.stdout?.on('data', (chunk: Buffer) => chunk.toString().includes('Mainspring is serving') && done());
      child.once('exit', (code) => fail(new Error(`serve exited with ${code}`)));
    });

    // the health check the image runs, pointed at this port
    const [health] = final('HEALTHCHECK');
    const check = execForm(health?.getTextContent() ?? '');
    expect(check.slice(0, 2)).toEqual(['node', '-e']);
    const script = (check[2] as string).replace('127.0.0.1:8090', `127.0.0.1:${port}`);
    await expect(run(process.execPath, ['-e', script])).resolves.toBeDefined();
    // and it fails when nothing answers
    await expect(run(process.execPath, ['-e', script.replace(`:${port}`, `:${await freePort()}`)])).rejects.toThrow();
  });

  test('sets only documented variables, and ignores what the build must not see', () => {
    const documented = documentedVariables();
    for (const inst of final('ENV')) {
      for (const m of (inst.getArgumentsContent() ?? '').matchAll(/([A-Z_]+)=/g)) {
        if (m[1] !== 'NODE_ENV') expect(documented, `${m[1]} is not in the configuration reference`).toContain(m[1]);
      }
    }
    const ignored = readFileSync(join(REPO, '.dockerignore'), 'utf8').split('\n');
    expect(ignored).toEqual(expect.arrayContaining(['**/node_modules', '**/ms_data', '.git']));
  });
});

describe('compose.yaml', () => {
  const compose = parseYaml(readFileSync(join(REPO, 'compose.yaml'), 'utf8'), { merge: true }) as {
    services: Record<
      string,
      { image?: string; build?: unknown; environment?: Record<string, string>; depends_on?: unknown; volumes?: string[] }
    >;
  };
  const instances = Object.entries(compose.services).filter(([, s]) => s.environment?.DATABASE_URL !== undefined);

  test('PostgreSQL, two Mainspring instances and a proxy in front of both', () => {
    expect(compose.services.postgres?.image).toMatch(/^postgres:/);
    expect(instances.map(([name]) => name)).toEqual(['mainspring-1', 'mainspring-2']);
    for (const [, s] of instances) {
      expect(s.image).toBe('mainspring:local');
      expect(new URL(s.environment?.DATABASE_URL ?? '').hostname).toBe('postgres');
      expect(s.volumes).toContain('files:/data'); // one files volume, shared
    }
    const proxy = compose.services.proxy;
    const conf = (proxy?.volumes ?? []).map((v) => v.split(':')[0] as string).find((v) => v.endsWith('.conf')) as string;
    expect(existsSync(join(REPO, conf))).toBe(true);
    const nginx = readFileSync(join(REPO, conf), 'utf8');
    const port = (instances[0]?.[1].environment?.MS_HTTP ?? '').split(':')[1];
    for (const [name] of instances) expect(nginx).toContain(`server ${name}:${port};`);
    expect(nginx).toContain('proxy_buffering off;'); // realtime streams
  });

  test("the instances' environment is the configuration reference's", () => {
    const documented = documentedVariables();
    for (const [name, s] of instances) {
      for (const key of Object.keys(s.environment ?? {})) expect(documented, `${name}: ${key} is not documented`).toContain(key);
    }
    expect(instances[0]?.[1].environment).toEqual(instances[1]?.[1].environment);
  });
});
