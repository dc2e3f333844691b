import { asPoint } from '../../storage/values.js';
import type { GeoPointField } from '../collections/model.js';
import { fieldError } from '../errors.js';
import type { FieldKind, JsonSchema, ValueSource } from './kind.js';
import { invalidType, noDeclarations, REQUIRED_OPTION, required } from './values.js';

const notAPoint = () => invalidType('an object with numeric lon and lat');

/**
 * A submitted point: an object whose `lon` and `lat` (each optional, 0 when
 * left out) are numbers, or from a form its JSON text; nothing, '' and `{}`
 * are the empty point. Other keys are dropped.
 */
function preparePoint(raw: unknown, source: ValueSource): unknown {
  let value = raw;
  if (source === 'form' && typeof raw === 'string') {
    if (raw.trim() === '') return asPoint(null);
    try {
      value = JSON.parse(raw);
    } catch {
      return notAPoint();
    }
  }
  if (value === undefined || value === null || value === '') return asPoint(null);
  if (typeof value !== 'object' || Array.isArray(value)) return notAPoint();
  const point = value as { lon?: unknown; lat?: unknown };
  const bad = (v: unknown) => v !== undefined && !(typeof v === 'number' && Number.isFinite(v));
  if (bad(point.lon) || bad(point.lat)) return notAPoint();
  return asPoint(point);
}

const POINT_SCHEMA: JsonSchema = {
  type: 'object',
  description: 'Longitude and latitude in degrees; {"lon": 0, "lat": 0} when unset.',
  properties: { lon: { type: 'number', minimum: -180, maximum: 180 }, lat: { type: 'number', minimum: -90, maximum: 90 } },
  required: ['lon', 'lat'],
};

/** A point on Earth; `{lon: 0, lat: 0}` ("Null Island") is the unset point. */
export const geoPoint: FieldKind<GeoPointField> = {
  options: (base, r) => ({ ...base, required: r.bool('required') }),
  column: () => 'point',
  empty: () => asPoint(null),
  prepare: (_f, raw, source) => preparePoint(raw, source),
  validate: (f, v) => {
    const { lon, lat } = v as { lon: number; lat: number };
    if (lon === 0 && lat === 0) return f.required ? required() : null;
    if (lat < -90 || lat > 90) return fieldError('validation_invalid_latitude', 'Latitude must be between -90 and 90 degrees.');
    if (lon < -180 || lon > 180) return fieldError('validation_invalid_longitude', 'Longitude must be between -180 and 180 degrees.');
    return null;
  },
  output: 'stored',
  write: 'value',
  modifiers: null,
  mustSend: (f) => f.required,
  filter: { valueType: 'json', list: false, json: 'point' },
  identity: null,
  openApi: {
    value: () => structuredClone(POINT_SCHEMA),
    input: () => ({ ...structuredClone(POINT_SCHEMA), examples: [{ lon: 23.32, lat: 42.69 }] }),
  },
  typescript: { value: () => '{ lon: number; lat: number }', input: () => '{ lon: number; lat: number }', declarations: noDeclarations },
  editor: { label: 'Geo point', options: [REQUIRED_OPTION] },
};
