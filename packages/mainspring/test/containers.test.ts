import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { type Copy, DockerfileParser, type From, type Instruction } from 'dockerfile-ast';
import { afterAll, describe, expect, test } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { freePort, run, startProgram, stopPrograms, userEnv } from './helpers/processes.js';

/**
 * The Dockerfile and compose.yaml, without a Docker engine (none runs where
 * Mainspring is developed, so the image is never built here). The
 * Dockerfile, parsed with dockerfile-ast, is linted: one build stage that
 * builds once, pinned base images, apt without recommends and without its
 * lists, a non-root user, a data volume, exec-form commands, every COPY
 * source present in the build context (and not ignored) or made by the
 * build stage. Then the image's layout is put together from the final
 * stage's COPY instructions, and its start command and health check are
 * run there: the server serves the API and the dashboard, and the health
 * check follows the port MS_HTTP configures. compose.yaml publishes on the
 * loopback only, and every variable either file sets is in the README's
 * configuration reference.
 */

const REPO = resolve(import.meta.dirname, '../../..');
const README = readFileSync(join(REPO, 'README.md'), 'utf8');
const ROOT_MANIFEST = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));

/** The environment variables the README's configuration reference lists. */
function documentedVariables(): Set<string> {
  const section = README.slice(README.indexOf('## Configuration reference'));
  const table = section.slice(0, section.indexOf('\n## '));
  return new Set([...table.matchAll(/`((?:MS_|DATABASE_)[A-Z_]+)`/g)].map((m) => m[1] as string));
}

const dockerfile = DockerfileParser.parse(readFileSync(join(REPO, 'Dockerfile'), 'utf8'));
const instructions = dockerfile.getInstructions();
const starts = instructions.flatMap((inst, i) => (inst.getKeyword() === 'FROM' ? [i] : []));
/** The instructions of each stage, FROM first. */
const stages = starts.map((start, i) => instructions.slice(start, starts[i + 1]));
const [buildStage = [], finalStage = []] = [stages[0], stages.at(-1)];
const of = (stage: Instruction[], keyword: string) => stage.filter((i) => i.getKeyword() === keyword);
const final = (keyword: string) => of(finalStage, keyword);
/** `CMD ["a", "b"]` as its words. */
const execForm = (text: string): string[] => JSON.parse(text.replace(/^(CMD|HEALTHCHECK[^[]*CMD)\s+/s, ''));
/** The sources and destination of a COPY, and the stage it copies from. */
const copyOf = (inst: Instruction) => {
  const args = (inst as Copy).getArguments().map((a) => a.getValue());
  return { from: (inst as Copy).getFromFlag()?.getValue() ?? null, sources: args.slice(0, -1), destination: args.at(-1) as string };
};
const workdir = (stage: Instruction[]) => of(stage, 'WORKDIR').at(-1)?.getArgumentsContent() ?? '/';

/** Whether .dockerignore leaves `path` (relative to the context) out, by its patterns (`*`, `**`, exact paths). */
function ignored(path: string): boolean {
  const patterns = readFileSync(join(REPO, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const regex = (pattern: string) =>
    new RegExp(
      `^${pattern
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*\*\//g, '\0')
        .replace(/\*/g, '[^/]*')
        .replaceAll('\0', '(?:.*/)?')}$`,
    );
  const parts = posix.normalize(path).replace(/\/$/, '').split('/');
  return parts.some((_, i) => patterns.some((p) => regex(p).test(parts.slice(0, i + 1).join('/'))));
}

const dirs: string[] = [];
afterAll(async () => {
  await stopPrograms();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('the Dockerfile', () => {
  test('one build stage and a final one: pinned images, a non-root user, a data volume, a health check, exec form', () => {
    expect(dockerfile.getComments().length).toBeGreaterThan(0);
    expect(stages).toHaveLength(2);
    expect((buildStage[0] as From).getBuildStage()).toBe('build');
    for (const stage of stages) {
      const from = stage[0] as From;
      expect(from.getImageTag(), 'a pinned base image').toMatch(/^\d+[\w.-]*$/);
    }
    expect(final('USER').map((i) => i.getArgumentsContent() ?? '')).toEqual(['node']);
    expect(final('VOLUME').map((i) => i.getArgumentsContent() ?? '')).toEqual(['/data']);
    expect(final('HEALTHCHECK')).toHaveLength(1);
    expect(final('EXPOSE').map((i) => i.getArgumentsContent() ?? '')).toEqual(['8090']);
    for (const inst of [...final('CMD'), ...final('HEALTHCHECK')]) expect(() => execForm(inst.getTextContent())).not.toThrow();
    // apt without what it recommends, and without its lists in the layer
    for (const inst of of(instructions, 'RUN')) {
      const text = inst.getTextContent();
      if (!text.includes('apt-get install')) continue;
      expect(text).toContain('--no-install-recommends');
      expect(text).toContain('rm -rf /var/lib/apt/lists/*');
    }
  });

  test('the build stage builds once: npm ci runs the build (the root prepare script), nothing builds again', () => {
    expect(ROOT_MANIFEST.scripts.prepare).toBe('npm run build');
    const runs = of(buildStage, 'RUN').map((i) => i.getArgumentsContent() ?? '');
    const builds = runs.flatMap((r) => [
      ...[...r.matchAll(/npm ci\b(?![^&]*--ignore-scripts)/g)].map(() => 'npm ci'),
      ...[...r.matchAll(/npm run build\b/g)].map(() => 'npm run build'),
    ]);
    expect(builds).toEqual(['npm ci']);
    expect(runs.join('\n')).toContain('npm prune --omit=dev');
    expect(
      of(finalStage, 'RUN')
        .map((i) => i.getArgumentsContent() ?? '')
        .join('\n'),
    ).not.toMatch(/npm (ci|install|run)/);
  });

  test('every COPY source is in the build context and not ignored, or made by the build stage', () => {
    const buildDir = workdir(buildStage);
    const copies = of(instructions, 'COPY').map(copyOf);
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) {
      for (const source of copy.sources) {
        if (copy.from === null) {
          expect([source, existsSync(join(REPO, source))]).toEqual([source, true]);
          expect([source, ignored(source)]).toEqual([source, false]);
        } else {
          expect(copy.from).toBe('build');
          // the build stage works on the context in its WORKDIR: what it copies out is there once `npm ci` has built
          expect(source.startsWith(`${buildDir}/`), source).toBe(true);
          const path = source.slice(buildDir.length + 1);
          expect([source, existsSync(join(REPO, path))]).toEqual([source, true]);
        }
      }
    }
    // the rules bite: the repository's own ignored and missing paths
    expect(ignored('node_modules')).toBe(true);
    expect(ignored('packages/mainspring/node_modules/x')).toBe(true);
    expect(ignored('packages/mainspring/dashboard')).toBe(true);
    expect(ignored('packages/mainspring/src')).toBe(false);
  });

  test("the image's layout, from the final stage's COPYs, serves with the README's command, and the health check follows MS_HTTP", async () => {
    const [cmd] = final('CMD');
    const words = execForm(cmd?.getTextContent() ?? '');
    expect(README).toContain('## Containers');
    const containers = README.slice(README.indexOf('## Containers'));
    expect(containers).toContain(`\`\`\`sh\n${words.join(' ')}\n\`\`\``);

    // the final stage's files, copied from where the build stage has them (here: the repository, built by npm test);
    // node_modules is linked, not copied (hundreds of MB)
    const image = mkdtempSync(join(tmpdir(), 'ms-image-'));
    dirs.push(image);
    const buildDir = workdir(buildStage);
    const app = join(image, workdir(finalStage));
    mkdirSync(app, { recursive: true });
    for (const copy of of(finalStage, 'COPY').map(copyOf)) {
      for (const source of copy.sources) {
        const from = join(REPO, source.slice(buildDir.length + 1));
        const to = copy.destination.endsWith('/') ? join(app, copy.destination, posix.basename(source)) : join(app, copy.destination);
        mkdirSync(dirname(to), { recursive: true });
        if (source.endsWith('/node_modules')) symlinkSync(from, to);
        else cpSync(from, to, { recursive: true });
      }
    }
    expect(existsSync(join(app, 'packages/mainspring/src')), 'sources stay out of the image').toBe(false);

    const env: Record<string, string> = {};
    for (const inst of final('ENV')) {
      for (const m of (inst.getArgumentsContent() ?? '').matchAll(/([A-Z_]+)=(\S+)/g)) env[m[1] as string] = m[2] as string;
    }
    expect(Object.keys(env).sort()).toEqual(['MS_DATA_DIR', 'MS_HOOKS_DIR', 'MS_HTTP', 'MS_MIGRATIONS_DIR', 'NODE_ENV']);
    const port = await freePort();
    const serverEnv = userEnv({
      ...env,
      MS_HTTP: `127.0.0.1:${port}`,
      MS_DATA_DIR: join(image, 'data'),
      MS_HOOKS_DIR: join(image, 'hooks'),
      MS_MIGRATIONS_DIR: join(image, 'migrations'),
      MS_LOG_LEVEL: 'warn',
    });
    const [program, ...args] = words;
    expect(program).toBe('node');
    const server = startProgram(process.execPath, args, { cwd: app, env: serverEnv });
    await server.waitFor('Mainspring is serving', 60_000);
    expect((await fetch(`http://127.0.0.1:${port}/api/health`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/_/`)).status).toBe(200); // the dashboard is in the image

    // the health check, as the image runs it, with the server's MS_HTTP; and on every interface, which it asks on the loopback
    const [health] = final('HEALTHCHECK');
    const [checker, ...check] = execForm(health?.getTextContent() ?? '');
    expect(checker).toBe('node');
    const healthy = (http: string) => run(process.execPath, check, { cwd: app, env: userEnv({ MS_HTTP: http }) });
    await expect(healthy(`127.0.0.1:${port}`)).resolves.toBeDefined();
    await expect(healthy(`0.0.0.0:${port}`)).resolves.toBeDefined();
    // and it fails where nothing answers: another port, the image's default one
    await expect(healthy(`127.0.0.1:${await freePort()}`)).rejects.toThrow();
    await server.stop();
    await expect(healthy(`127.0.0.1:${port}`)).rejects.toThrow();
  });

  test('sets only documented variables, and ignores what the build must not see', () => {
    const documented = documentedVariables();
    for (const inst of final('ENV')) {
      for (const m of (inst.getArgumentsContent() ?? '').matchAll(/([A-Z_]+)=/g)) {
        if (m[1] !== 'NODE_ENV') expect(documented, `${m[1]} is not in the configuration reference`).toContain(m[1]);
      }
    }
    const ignoredLines = readFileSync(join(REPO, '.dockerignore'), 'utf8').split('\n');
    expect(ignoredLines).toEqual(expect.arrayContaining(['**/node_modules', '**/ms_data', '.git']));
  });
});

describe('compose.yaml', () => {
  const compose = parseYaml(readFileSync(join(REPO, 'compose.yaml'), 'utf8'), { merge: true }) as {
    services: Record<
      string,
      {
        image?: string;
        build?: unknown;
        environment?: Record<string, string>;
        depends_on?: Record<string, { condition: string }>;
        volumes?: string[];
        ports?: string[];
      }
    >;
  };
  const instances = Object.entries(compose.services).filter(([, s]) => s.environment?.DATABASE_URL !== undefined);

  test('PostgreSQL, two Mainspring instances and a proxy in front of both, once they are healthy', () => {
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
    expect(proxy?.depends_on).toEqual({
      'mainspring-1': { condition: 'service_healthy' },
      'mainspring-2': { condition: 'service_healthy' },
    });
  });

  test('publishes on this machine only by default, and says how to expose it and make the first superuser', () => {
    const published = Object.values(compose.services).flatMap((s) => s.ports ?? []);
    expect(published).toEqual(['127.0.0.1:8090:80']);
    const text = readFileSync(join(REPO, 'compose.yaml'), 'utf8');
    expect(text).toMatch(/# .*publish on every interface\s*\n\s*# \("8090:80"\)/);
    const exec = 'docker compose exec mainspring-1 node packages/mainspring/bin/mainspring.js superuser upsert';
    expect(text).toContain(exec);
    expect(README).toContain(exec);
    // the command it runs is the image's own CLI
    expect(execForm(final('CMD')[0]?.getTextContent() ?? '').slice(0, 2)).toEqual(['node', 'packages/mainspring/bin/mainspring.js']);
  });

  test("the instances' environment is the configuration reference's", () => {
    const documented = documentedVariables();
    for (const [name, s] of instances) {
      for (const key of Object.keys(s.environment ?? {})) expect(documented, `${name}: ${key} is not documented`).toContain(key);
    }
    expect(instances[0]?.[1].environment).toEqual(instances[1]?.[1].environment);
  });
});
