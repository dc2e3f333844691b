import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { signedUpUser, startServer, superuserToken, type TestServer } from './helpers/server.js';

/**
 * PocketBase's `geoPoint` field and `geoDistance()` filter function, through
 * real HTTP: points are stored and answered as `{lon, lat}`, bad points are
 * a 400 naming the field, and "places within N km" is a filter (and a rule).
 */

let s: TestServer;
let su: string;
const places: Record<string, string> = {};

// the distances between these, in km (great circle, R = 6371 km): Sofia–Plovdiv 132, Sofia–Varna 376, Sofia–London 2017
const CITIES = {
  sofia: { lon: 23.3219, lat: 42.6977 },
  plovdiv: { lon: 24.7453, lat: 42.1354 },
  varna: { lon: 27.9147, lat: 43.2141 },
  london: { lon: -0.1276, lat: 51.5072 },
};

beforeAll(async () => {
  s = await startServer();
  su = await superuserToken(s);
  const created = await s.request('POST', '/api/collections', {
    token: su,
    body: {
      name: 'places',
      listRule: '',
      viewRule: '',
      createRule: '',
      updateRule: '',
      fields: [
        { name: 'name', type: 'text' },
        { name: 'at', type: 'geoPoint' },
        { name: 'km', type: 'number' },
      ],
    },
  });
  expect(created.status).toBe(200);
  expect(created.body.fields.find((f: { name: string }) => f.name === 'at')).toMatchObject({ type: 'geoPoint', required: false });
  for (const [name, at] of Object.entries(CITIES)) {
    const res = await s.request('POST', '/api/collections/places/records', { body: { name, at } });
    expect(res.status).toBe(200);
    places[name] = res.body.id;
  }
});
afterAll(() => s.close());

const names = async (filter: string, sort = 'name') => {
  const res = await s.request('GET', `/api/collections/places/records?filter=${encodeURIComponent(filter)}&sort=${sort}`);
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body.items.map((r: { name: string }) => r.name);
};

describe('geoPoint field', () => {
  test('a point is stored and answered as {lon, lat}; an unset one is {lon: 0, lat: 0}', async () => {
    const sofia = await s.request('GET', `/api/collections/places/records/${places.sofia}`);
    expect(sofia.body.at).toEqual(CITIES.sofia);
    const nowhere = await s.request('POST', '/api/collections/places/records', { body: { name: 'nowhere' } });
    expect(nowhere.body.at).toEqual({ lon: 0, lat: 0 });
    // other keys are dropped, a missing coordinate is 0
    const partial = await s.request('PATCH', `/api/collections/places/records/${nowhere.body.id}`, { body: { at: { lat: 10, alt: 500 } } });
    expect(partial.status).toBe(200);
    expect(partial.body.at).toEqual({ lon: 0, lat: 10 });
    // a form sends the point as JSON text
    const form = new FormData();
    form.set('name', 'formed');
    form.set('at', JSON.stringify({ lon: 1.5, lat: -2.25 }));
    const res = await fetch(`${s.url}/api/collections/places/records`, { method: 'POST', body: form });
    expect(res.status).toBe(200);
    const formed = (await res.json()) as { id: string; at: unknown };
    expect(formed.at).toEqual({ lon: 1.5, lat: -2.25 });
    for (const id of [nowhere.body.id, formed.id]) {
      expect((await s.request('DELETE', `/api/collections/places/records/${id}`, { token: su })).status).toBe(204);
    }
  });

  test('a field added to a collection with records gives them the empty point', async () => {
    const res = await s.request('PATCH', '/api/collections/places', {
      token: su,
      body: {
        fields: [
          { name: 'name', type: 'text' },
          { name: 'at', type: 'geoPoint' },
          { name: 'km', type: 'number' },
          { name: 'home', type: 'geoPoint' },
        ],
      },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect((await s.request('GET', `/api/collections/places/records/${places.sofia}`)).body.home).toEqual({ lon: 0, lat: 0 });
  });

  test('hostile points are a 400 naming the field, and nothing is written', async () => {
    const cases: [unknown, string][] = [
      [{ lon: 0, lat: 91 }, 'validation_invalid_latitude'],
      [{ lon: 0, lat: -90.5 }, 'validation_invalid_latitude'],
      [{ lon: 180.01, lat: 0 }, 'validation_invalid_longitude'],
      [{ lon: '23.3', lat: 42 }, 'validation_invalid_type'],
      [{ lon: 1, lat: null }, 'validation_invalid_type'],
      [{ lon: 1, lat: true }, 'validation_invalid_type'],
      [[23.3, 42.6], 'validation_invalid_type'],
      ['23.3,42.6', 'validation_invalid_type'],
      [42, 'validation_invalid_type'],
    ];
    const before = (await s.request('GET', '/api/collections/places/records?perPage=1')).body.totalItems;
    for (const [at, code] of cases) {
      const res = await s.request('POST', '/api/collections/places/records', { body: { name: 'bad', at } });
      expect(res.status, JSON.stringify(at)).toBe(400);
      expect(res.body.data.at.code, JSON.stringify(at)).toBe(code);
    }
    // a number JSON can write but a double cannot hold
    const huge = await s.request('POST', '/api/collections/places/records', {
      raw: '{"name":"bad","at":{"lon":1e400,"lat":0}}',
      headers: { 'content-type': 'application/json' },
    });
    expect(huge.status).toBe(400);
    // a form's text that is not JSON
    const form = new FormData();
    form.set('at', '{lon: 1');
    const res = await fetch(`${s.url}/api/collections/places/records`, { method: 'POST', body: form });
    expect(res.status).toBe(400);
    expect((await s.request('GET', '/api/collections/places/records?perPage=1')).body.totalItems).toBe(before);
  });

  test('a required point may not be {lon: 0, lat: 0}', async () => {
    const res = await s.request('POST', '/api/collections', {
      token: su,
      body: { name: 'pins', createRule: '', fields: [{ name: 'at', type: 'geoPoint', required: true }] },
    });
    expect(res.status).toBe(200);
    const empty = await s.request('POST', '/api/collections/pins/records', { body: { at: { lon: 0, lat: 0 } } });
    expect(empty.status).toBe(400);
    expect(empty.body.data.at.code).toBe('validation_required');
    expect((await s.request('POST', '/api/collections/pins/records', { body: { at: { lon: 0, lat: 0.0001 } } })).status).toBe(200);
  });
});

describe('geoDistance()', () => {
  test('places within a radius, by distance in km', async () => {
    const from = (p: { lon: number; lat: number }) => `geoDistance(at.lon, at.lat, ${p.lon}, ${p.lat})`;
    expect(await names(`${from(CITIES.sofia)} < 150`)).toEqual(['plovdiv', 'sofia']);
    expect(await names(`${from(CITIES.sofia)} < 400`)).toEqual(['plovdiv', 'sofia', 'varna']);
    expect(await names(`${from(CITIES.sofia)} > 2000 && ${from(CITIES.sofia)} < 2030`)).toEqual(['london']);
    // the same point: a distance of (nearly) 0; the cosine rounds past 1 for some points, where acos would fail
    expect(await names(`${from(CITIES.varna)} < 0.001`)).toEqual(['varna']);
    expect(await names('geoDistance(at.lon, at.lat, at.lon, at.lat) < 0.001 && name = "london"')).toEqual(['london']);
    // at latitude 0.08 the cosine of a point with itself computes to 1.0000000000000002
    expect(await names('geoDistance(10, 0.08, 10, 0.08) < 0.001 && name = "london"')).toEqual(['london']);
  });

  test('arguments may be number fields; a text argument or a wrong count is a 400', async () => {
    await s.request('PATCH', `/api/collections/places/records/${places.sofia}`, { body: { km: 131 } });
    await s.request('PATCH', `/api/collections/places/records/${places.plovdiv}`, { body: { km: 133 } });
    // Plovdiv is 132 km from Sofia: within 133, not within 131
    expect(await names(`name = "plovdiv" && geoDistance(at.lon, at.lat, ${CITIES.sofia.lon}, ${CITIES.sofia.lat}) < km`)).toEqual([
      'plovdiv',
    ]);
    for (const filter of [
      'geoDistance(at.lon, at.lat, 1) < 5',
      'geoDistance(at.lon, at.lat, 1, 2, 3) < 5',
      'geoDistance(name, at.lat, 1, 2) < 5',
      'geoDistance(at.lon, at.lat, "1", 2) < 5',
      'geoDistance(at.alt, at.lat, 1, 2) < 5',
      'geoDistance(at.lon.x, at.lat, 1, 2) < 5',
      'geoDistance(nothing, at.lat, 1, 2) < 5',
      'geoDistance(geoDistance(1, 2, 3, 4), at.lat, 1, 2) < 5',
      'geoRadius(at.lon, at.lat, 1, 2) < 5',
    ]) {
      const res = await s.request('GET', `/api/collections/places/records?filter=${encodeURIComponent(filter)}`);
      expect(res.status, filter).toBe(400);
      expect(res.body.message, filter).toBeTypeOf('string');
    }
  });

  test('hostile filters and sorts on a point answer 200 or 400, never a 500', async () => {
    for (const q of [
      'filter=at = "x"',
      'filter=at ~ "1"',
      'filter=at != null',
      'filter=at.lon > "a"',
      'filter=at.lat ?= 1',
      'filter=at.lon:length > 1',
      'filter=at:each = 1',
      'filter=geoDistance(at.lon, at.lat, 1e400, 2) < 5',
      'filter=geoDistance(at.lon, at.lat, -1, -2) > -1',
      'sort=at',
      'sort=-at.lon',
      'sort=geoDistance(at.lon, at.lat, 1, 2)',
    ]) {
      const [key, value] = q.split(/=(.*)/s) as [string, string];
      const res = await s.request('GET', `/api/collections/places/records?${key}=${encodeURIComponent(value)}`);
      expect([200, 400], q).toContain(res.status);
      if (res.status === 200) expect(Array.isArray(res.body.items), q).toBe(true);
      else expect(res.body.message, q).toBeTypeOf('string');
    }
  });

  test('in a rule: a user sees only the places near their own home', async () => {
    // the users collection gets a home, which the rule reads
    const users = await s.request('GET', '/api/collections/users', { token: su });
    const fields = [...users.body.fields, { name: 'home', type: 'geoPoint' }];
    expect((await s.request('PATCH', '/api/collections/users', { token: su, body: { fields } })).status).toBe(200);
    const created = await s.request('POST', '/api/collections', {
      token: su,
      body: {
        name: 'nearby',
        listRule: 'geoDistance(at.lon, at.lat, @request.auth.home.lon, @request.auth.home.lat) < 200',
        fields: [
          { name: 'name', type: 'text' },
          { name: 'at', type: 'geoPoint' },
        ],
      },
    });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    for (const [name, at] of Object.entries(CITIES)) {
      expect((await s.request('POST', '/api/collections/nearby/records', { token: su, body: { name, at } })).status).toBe(200);
    }
    const ann = await signedUpUser(s, 'geo-ann@example.com');
    await s.request('PATCH', `/api/collections/users/records/${ann.id}`, { token: su, body: { home: CITIES.sofia } });
    const list = await s.request('GET', '/api/collections/nearby/records?sort=name', { token: ann.token });
    expect(list.status).toBe(200);
    expect(list.body.items.map((r: { name: string }) => r.name)).toEqual(['plovdiv', 'sofia']);
  });
});
