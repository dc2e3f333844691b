import { describe, expect, test } from 'vitest';
import { ID_LENGTH, newRecordId, timeOrderedId } from './ids.js';

describe('ids', () => {
  test('record ids: 15 characters of a-z0-9, unrelated to each other', () => {
    const ids = Array.from({ length: 2000 }, () => newRecordId());
    for (const id of ids) expect(id).toMatch(/^[a-z0-9]{15}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test('time-ordered ids: the same shape, sorted as the times they were made', () => {
    const start = Date.UTC(2026, 10, 29);
    const times = [0, 1, 2, 999, 1000, 86_400_000, 36 ** 6, 365 * 86_400_000].map((d) => start + d);
    const ids = times.map((t) => timeOrderedId(t));
    for (const id of ids) {
      expect(id).toHaveLength(ID_LENGTH);
      expect(id).toMatch(/^[a-z0-9]{15}$/);
    }
    expect([...ids].sort()).toEqual(ids);
    // ids of one millisecond differ in their sequence, and sort in the order they were made
    const same = Array.from({ length: 1000 }, () => timeOrderedId(start));
    expect(new Set(same).size).toBe(same.length);
    expect(new Set(same.map((id) => id.slice(0, 9))).size).toBe(1);
    expect([...same].sort()).toEqual(same);
  });

  test('time-ordered ids of one process never repeat, however many a millisecond holds or if the clock goes back', () => {
    // at 13k requests/s a millisecond holds ~13 log rows; 36⁶ random endings met about once an hour
    const at = Date.UTC(2027, 5, 1);
    const ids = [...Array.from({ length: 5000 }, () => timeOrderedId(at)), ...Array.from({ length: 100 }, () => timeOrderedId(at - 5))];
    expect(new Set(ids).size).toBe(ids.length);
    expect([...ids].sort()).toEqual(ids);
    // the last 4 characters name the process: the same for all
    expect(new Set(ids.map((id) => id.slice(-4))).size).toBe(1);
  });
});
