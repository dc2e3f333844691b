import { describe, expect, test } from 'vitest';
import { kindOf } from './index.js';
import { fieldOf, prepared, problem, schemaContext, typeContext } from './kit.js';

describe('geoPoint', () => {
  test("prepare: lon and lat numbers (0 when left out), other keys dropped; a form's JSON text", () => {
    const f = fieldOf('geoPoint');
    expect(prepared(f, { lon: 23.32, lat: 42.69, alt: 5 })).toEqual({ lon: 23.32, lat: 42.69 });
    expect(prepared(f, { lat: 1 })).toEqual({ lon: 0, lat: 1 });
    expect(prepared(f, null)).toEqual({ lon: 0, lat: 0 });
    expect(prepared(f, '{"lon":1,"lat":2}', 'form')).toEqual({ lon: 1, lat: 2 });
    expect(prepared(f, { lon: '1' })).toEqual({ invalid: 'validation_invalid_type' });
    expect(prepared(f, [1, 2])).toEqual({ invalid: 'validation_invalid_type' });
    expect(prepared(f, 'nowhere', 'form')).toEqual({ invalid: 'validation_invalid_type' });
  });

  test('validate: (0, 0) is unset; degrees within range', () => {
    expect(problem(fieldOf('geoPoint', { required: true }), { lon: 0, lat: 0 })).toBe('validation_required');
    expect(problem(fieldOf('geoPoint'), { lon: 0, lat: 91 })).toBe('validation_invalid_latitude');
    expect(problem(fieldOf('geoPoint'), { lon: -181, lat: 0 })).toBe('validation_invalid_longitude');
  });

  test('a point to filters: only lon and lat', () => {
    const f = fieldOf('geoPoint');
    expect(kindOf(f).column(f)).toBe('point');
    expect(kindOf(f).filter).toEqual({ valueType: 'json', list: false, json: 'point' });
  });

  test('an object of lon and lat in schemas and types', () => {
    const f = fieldOf('geoPoint');
    expect(kindOf(f).openApi.value(f, schemaContext)).toMatchObject({
      type: 'object',
      properties: { lon: { type: 'number', minimum: -180, maximum: 180 }, lat: { type: 'number', minimum: -90, maximum: 90 } },
      required: ['lon', 'lat'],
    });
    expect(kindOf(f).typescript.value(f, typeContext)).toBe('{ lon: number; lat: number }');
  });
});
