import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, superuserToken, type TestServer } from '../../../test/helpers/server.js';
import { CronService } from '../../core/crons.js';
import { registerErrorHandlers } from '../errors.js';
import { cronRoutes } from './crons.js';

/**
 * `/api/crons` (PocketBase's routes, superusers only): the list of jobs as
 * `[{id, expression}]` sorted by id, and `POST /api/crons/{id}` running one
 * in the background (204), 404 for an unknown id. The routes are mounted on
 * a small Fastify server of their own, beside a test server that provides
 * the app and the tokens, and checked once more where `http/server.ts`
 * mounts them.
 */

let s: TestServer;
let su = '';
let user = '';

async function login(collection: string, identity: string, password: string): Promise<string> {
  const r = await s.request('POST', `/api/collections/${collection}/auth-with-password`, { body: { identity, password } });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.token;
}

beforeAll(async () => {
  s = await startServer();
  su = await superuserToken(s);
  const created = await s.request('POST', '/api/collections/users/records', {
    body: { email: 'user@example.com', password: 'user-password-1', passwordConfirm: 'user-password-1' },
  });
  expect(created.status, JSON.stringify(created.body)).toBe(200);
  user = await login('users', 'user@example.com', 'user-password-1');
});

afterAll(async () => {
  await s?.close();
});

describe('on a server of their own', () => {
  let server: FastifyInstance;
  let crons: CronService;
  const ran: string[] = [];

  beforeAll(async () => {
    crons = new CronService(s.app.engine, s.app.logger);
    crons.add('reports.daily', '@daily', () => void ran.push('reports.daily'));
    crons.add('cleanup', '*/5 * * * *', async () => {
      await new Promise((r) => setTimeout(r, 20));
      ran.push('cleanup');
    });
    crons.add('broken', '@hourly', () => {
      throw new Error('broken job');
    });
    server = Fastify();
    registerErrorHandlers(server);
    cronRoutes(server, crons, s.app);
    await server.ready();
  });

  afterAll(async () => {
    await crons.stop();
    await server.close();
  });

  const call = async (method: 'GET' | 'POST', url: string, token?: string) => {
    const res = await server.inject({ method, url, headers: token ? { authorization: token } : {} });
    return { status: res.statusCode, body: res.body === '' ? null : JSON.parse(res.body) };
  };

  test('GET /api/crons lists the jobs sorted by id, macros expanded, as PocketBase', async () => {
    const r = await call('GET', '/api/crons', su);
    expect(r.status).toBe(200);
    expect(r.body).toEqual([
      { id: 'broken', expression: '0 * * * *' },
      { id: 'cleanup', expression: '*/5 * * * *' },
      { id: 'reports.daily', expression: '0 0 * * *' },
    ]);
  });

  test('POST /api/crons/{id} runs the job in the background and answers 204', async () => {
    const r = await call('POST', '/api/crons/cleanup', su);
    expect(r).toEqual({ status: 204, body: null });
    for (let i = 0; i < 100 && !ran.includes('cleanup'); i++) await new Promise((r) => setTimeout(r, 10));
    expect(ran).toContain('cleanup');
  });

  test('a job that fails still answers 204 (the failure is logged)', async () => {
    expect((await call('POST', '/api/crons/broken', su)).status).toBe(204);
  });

  test('an unknown id is a 404 in PocketBase’s shape', async () => {
    const r = await call('POST', '/api/crons/nope', su);
    expect(r).toEqual({ status: 404, body: { status: 404, message: 'Missing or invalid cron job.', data: {} } });
  });

  test.each([
    ['GET', '/api/crons'],
    ['POST', '/api/crons/cleanup'],
    ['POST', '/api/crons/nope'],
  ] as const)('%s %s: 401 without a token, 403 for a user who is not a superuser', async (method, url) => {
    const before = ran.length;
    const anonymous = await call(method, url);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body).toMatchObject({ status: 401, message: expect.any(String), data: {} });
    const invalid = await call(method, url, 'not-a-token');
    expect(invalid.status).toBe(401);
    const regular = await call(method, url, user);
    expect(regular.status).toBe(403);
    expect(regular.body).toMatchObject({ status: 403, message: expect.any(String), data: {} });
    await new Promise((r) => setTimeout(r, 50));
    expect(ran.length).toBe(before);
  });
});

describe('on the full server', () => {
  test('GET /api/crons lists the app’s jobs; POST runs one; 404 and 401/403 as above', async () => {
    const crons = s.app.crons;
    let runs = 0;
    crons.add('wired.job', '@weekly', () => void runs++);
    try {
      const listed = await s.request('GET', '/api/crons', { token: su });
      expect(listed.status).toBe(200);
      expect(listed.body).toContainEqual({ id: 'wired.job', expression: '0 0 * * 0' });
      expect((await s.request('POST', '/api/crons/wired.job', { token: su })).status).toBe(204);
      for (let i = 0; i < 100 && runs === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(runs).toBe(1);
      const missing = await s.request('POST', '/api/crons/missing', { token: su });
      expect(missing.status).toBe(404);
      expect(missing.body).toEqual({ status: 404, message: 'Missing or invalid cron job.', data: {} });
      expect((await s.request('GET', '/api/crons')).status).toBe(401);
      expect((await s.request('GET', '/api/crons', { token: user })).status).toBe(403);
    } finally {
      crons.remove('wired.job');
    }
  });
});
