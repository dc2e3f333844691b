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
    // ids of one millisecond differ in their random part
    const same = Array.from({ length: 1000 }, () => timeOrderedId(start));
    expect(new Set(same).size).toBe(same.length);
    expect(new Set(same.map((id) => id.slice(0, 9))).size).toBe(1);
  });
});
