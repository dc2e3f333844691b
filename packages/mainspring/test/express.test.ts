import { EventSource } from 'eventsource';
import PocketBase from 'pocketbase';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startExpressServer } from './helpers/express.js';
import { sdkScenario } from './helpers/sdk-scenario.js';
import { superuserToken, type TestServer } from './helpers/server.js';

/**
 * `mainspring/express`: the whole API mounted under `/backend` in an Express
 * 5 app, on the app's own server. The SDK scenario passes unchanged; realtime
 * streams and file ranges go through the mount; the host app's routes and
 * body parsers keep working beside it.
 */

(globalThis as { EventSource?: unknown }).EventSource = EventSource;

sdkScenario('the official SDK against Mainspring mounted in Express under /backend', () => startExpressServer('/backend'));

describe('beside the Express app', () => {
  let s: TestServer;
  let admin: string;
  const origin = () => s.url.slice(0, -'/backend'.length);

  beforeAll(async () => {
    s = await startExpressServer('/backend', {
      hooks: [(ms) => ms.routerAdd('GET', '/api/hello/:name', (e) => ({ hello: e.params.name }))],
    });
    admin = await superuserToken(s);
    const created = await s.request('POST', '/api/collections', {
      token: admin,
      body: {
        name: 'docs',
        listRule: '',
        viewRule: '',
        createRule: '',
        updateRule: '',
        fields: [
          { name: 'title', type: 'text' },
          { name: 'file', type: 'file', maxSelect: 1, maxSize: 1 << 20 },
        ],
      },
    });
    expect(created.status).toBe(200);
  });
  afterAll(async () => s?.close());

  test('the host routes, its body parser and Mainspring answer on one server', async () => {
    expect(await (await fetch(`${origin()}/`)).text()).toBe('the Express app');
    const echo = await fetch(`${origin()}/echo`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"a":1}' });
    expect(await echo.json()).toEqual({ echoed: { a: 1 } });
    expect((await s.request('GET', '/api/health')).body).toEqual({ message: 'API is healthy.', code: 200, data: {} });
    expect((await s.request('GET', '/api/hello/ann')).body).toEqual({ hello: 'ann' });
    // unknown paths under the mount answer in PocketBase's shape
    const missing = await s.request('GET', '/api/nothing-here');
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ status: 404 });
    // and the API is not at the root
    expect((await fetch(`${origin()}/api/health`)).status).toBe(404);
  });

  test('realtime events stream through the mount', async () => {
    const pb = new PocketBase(s.url);
    const seen: string[] = [];
    const arrived = new Promise<void>((done) => {
      void pb.collection('docs').subscribe('*', (e) => {
        seen.push(`${e.action}:${e.record.title}`);
        if (seen.length === 2) done();
      });
    });
    // the subscription is set once the SDK's POST /api/realtime answered
    await expect.poll(() => pb.realtime.isConnected).toBe(true);
    await new Promise((r) => setTimeout(r, 100));
    const created = await pb.collection('docs').create({ title: 'one' });
    await pb.collection('docs').update(created.id, { title: 'two' });
    await arrived;
    expect(seen).toEqual(['create:one', 'update:two']);
    pb.realtime.unsubscribe();
  });

  test('uploads and ranged downloads go through the mount', async () => {
    const bytes = new Uint8Array(100_000).map((_, i) => i % 251);
    const pb = new PocketBase(s.url);
    const doc = await pb.collection('docs').create({ title: 'bin', file: new File([bytes], 'data.bin') });
    const url = pb.files.getURL(doc, doc.file as string);
    expect(url.startsWith(`${s.url}/api/files/`)).toBe(true);
    const whole = await fetch(url);
    expect(whole.status).toBe(200);
    expect(new Uint8Array(await whole.arrayBuffer())).toEqual(bytes);
    const part = await fetch(url, { headers: { range: 'bytes=1000-1999' } });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe(`bytes 1000-1999/${bytes.length}`);
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(bytes.slice(1000, 2000));
  });
});
