import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startServer, superuserToken, type TestServer } from './helpers/server.js';

/**
 * PocketBase's `strftime(format, [time, modifiers…])` in filters, through
 * real HTTP: both engines give SQLite's text for every conversion we take
 * (the expected values below are what SQLite's own strftime printed), an
 * empty date gives '', and what we do not take is a 400.
 */

let s: TestServer;

beforeAll(async () => {
  s = await startServer();
  const su = await superuserToken(s);
  const created = await s.request('POST', '/api/collections', {
    token: su,
    body: {
      name: 'events',
      listRule: '',
      createRule: '',
      fields: [
        { name: 'name', type: 'text' },
        { name: 'at', type: 'date' },
      ],
    },
  });
  expect(created.status).toBe(200);
  for (const [name, at] of [
    ['a', '2024-03-05 07:08:09.123Z'],
    ['b', '2023-12-31 23:59:59.000Z'],
    ['c', ''],
    ['d', '2024-01-01 00:00:00.000Z'],
  ]) {
    expect((await s.request('POST', '/api/collections/events/records', { body: { name, at } })).status).toBe(200);
  }
});
afterAll(() => s.close());

const names = async (filter: string) => {
  const res = await s.request('GET', `/api/collections/events/records?sort=name&filter=${encodeURIComponent(filter)}`);
  expect(res.status, `${filter}: ${JSON.stringify(res.body)}`).toBe(200);
  return res.body.items.map((r: { name: string }) => r.name);
};

describe('strftime()', () => {
  test("every conversion gives SQLite's text on this engine", async () => {
    const expected: Record<string, Record<string, string>> = {
      a: { Y: '2024', m: '03', d: '05', H: '07', M: '08', S: '09', f: '09.123', j: '065', w: '2', u: '2', W: '10', s: '1709622489' },
      b: { j: '365', w: '0', u: '7', W: '52', s: '1704067199' },
      d: { W: '01', j: '001', u: '1' },
    };
    expected.a = { ...expected.a, F: '2024-03-05', T: '07:08:09', R: '07:08' } as Record<string, string>;
    for (const [name, letters] of Object.entries(expected)) {
      for (const [letter, text] of Object.entries(letters)) {
        expect(await names(`name = "${name}" && strftime('%${letter}', at) = '${text}'`), `${name} %${letter}`).toEqual([name]);
      }
    }
    expect(await names(`strftime('%Y-%m', at) = '2024-03'`)).toEqual(['a']);
    expect(await names(`strftime('%Y-%m-%d %H:%M:%S', at) = '2024-03-05 07:08:09'`)).toEqual(['a']);
    expect(await names(`strftime('week %W of %Y, 100%%', at) = 'week 10 of 2024, 100%'`)).toEqual(['a']);
    // an empty date formats to '', whatever the format holds
    expect(await names(`strftime('%Y', at) = ''`)).toEqual(['c']);
    expect(await names(`strftime('no letters', at) = ''`)).toEqual(['c']);
    expect(await names(`strftime('%Y', at) != '' && strftime('%Y', at) ?= '2024'`)).toEqual(['a', 'd']);
  });

  test('modifiers shift the time or take the start of its year, month or day', async () => {
    expect(await names(`strftime('%Y-%m-%d', at, '+1 day') = '2024-03-06'`)).toEqual(['a']);
    expect(await names(`strftime('%Y-%m-%d %H:%M:%f', at, '+1.5 days') = '2024-03-06 19:08:09.123'`)).toEqual(['a']);
    expect(await names(`strftime('%Y-%m-%d %H:%M', at, 'start of month') = '2024-03-01 00:00'`)).toEqual(['a']);
    expect(await names(`strftime('%Y', at, '+1 second') = '2024'`)).toEqual(['a', 'b', 'd']);
    expect(await names(`strftime('%Y-%m-%d', at, '-1 years', 'start of year', '+2 months') = '2023-03-01'`)).toEqual(['a', 'd']);
    expect(await names(`strftime('%H', at, '  +3   HOURS ') = '10'`)).toEqual(['a']);
  });

  test("the time may be a date text, 'now', a date macro, or left out (now)", async () => {
    const year = String(new Date().getUTCFullYear());
    expect(await names(`strftime('%Y-%m', '2024-01-31') = '2024-01'`)).toEqual(['a', 'b', 'c', 'd']);
    expect(await names(`strftime('%H:%M', '2024-01-31 12:34:56.789Z') = '12:34'`)).toEqual(['a', 'b', 'c', 'd']);
    expect(await names(`strftime('%Y', 'now') = '${year}'`)).toEqual(['a', 'b', 'c', 'd']);
    expect(await names(`strftime('%Y') = '${year}'`)).toEqual(['a', 'b', 'c', 'd']);
    expect(await names(`strftime('%Y', @now) = '${year}'`)).toEqual(['a', 'b', 'c', 'd']);
    expect(await names(`strftime('%Y', @todayStart, '+1 day') = strftime('%Y', 'now', 'start of day', '+1 day')`)).toEqual([
      'a',
      'b',
      'c',
      'd',
    ]);
    // text that is not a date, or a date that does not exist, formats to ''
    for (const text of ['garbage', '2023-02-30', '2024-01-31 24:00:00', '']) {
      expect(await names(`strftime('%Y', '${text}') = ''`), text).toEqual(['a', 'b', 'c', 'd']);
    }
  });

  test('what it does not take is a 400 in the PocketBase shape, never a 500', async () => {
    for (const filter of [
      'strftime() = ""',
      `strftime('%Q', at) = ''`,
      `strftime('%', at) = ''`,
      `strftime('%J', at) = ''`,
      `strftime(at) = ''`,
      `strftime('%Y', 5) = ''`,
      `strftime('%Y', name) = ''`,
      `strftime('%Y', nothing) = ''`,
      `strftime('%Y', at, 5) = ''`,
      `strftime('%Y', at, '+1 fortnight') = ''`,
      `strftime('%Y', at, '+1.5 months') = ''`,
      `strftime('%Y', at, 'localtime') = ''`,
      `strftime('%Y', at, 'start of week') = ''`,
      `strftime('%Y', at, '+1 day', '+1 day', '+1 day', '+1 day', '+1 day', '+1 day', '+1 day', '+1 day', '+1 day') = ''`,
      `strftime('${'%Y'.repeat(101)}', at) = ''`,
      `strftime('%Y', strftime('%Y', at)) = ''`,
    ]) {
      const res = await s.request('GET', `/api/collections/events/records?filter=${encodeURIComponent(filter)}`);
      expect(res.status, filter).toBe(400);
      expect(res.body).toMatchObject({ status: 400, data: {} });
    }
    // literal text in a format is bound, never SQL
    expect(await names(`strftime("%Y' || '1", at) = "2024' || '1"`)).toEqual(['a', 'd']);
  });
});
