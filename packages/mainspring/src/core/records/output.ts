import type { Collection } from '../collections/model.js';
import { Errors } from '../errors.js';
import { kindOf } from '../fields/index.js';
import type { RecordData, RequestInfo } from '../rules/request-info.js';
import { isSuperuser } from '../rules/request-info.js';

/**
 * Records as the API shows them: `collectionId`, `collectionName`, the
 * visible fields in schema order, then `expand`. Passwords and token keys
 * never leave; hidden fields only to superusers; an auth record's email only
 * to itself, superusers, or when it chose to show it.
 */

/** Whether an auth record's email is shown to the caller whatever its emailVisibility. */
export function ownsOrManages(c: Collection, data: RecordData, info: RequestInfo | null, managed?: ReadonlySet<string>): boolean {
  if (isSuperuser(info) || managed?.has(data.id)) return true;
  return info?.auth?.collection.id === c.id && info.auth.record.id === data.id;
}

/**
 * A record's public JSON for the caller. `managed` holds the ids of auth
 * records the caller's manageRule admits: managers see their emails.
 */
export function publicRecord(
  c: Collection,
  data: RecordData,
  info: RequestInfo | null,
  expand?: Record<string, unknown>,
  managed?: ReadonlySet<string>,
): Record<string, unknown> {
  const superuser = isSuperuser(info);
  const out: Record<string, unknown> = { collectionId: c.id, collectionName: c.name };
  const isAuth = c.type === 'auth';
  for (const f of c.fields) {
    if (kindOf(f).output === 'never' || (isAuth && f.name === 'tokenKey')) continue;
    if (f.hidden && !superuser) continue;
    if (isAuth && f.name === 'email' && data.emailVisibility !== true && !ownsOrManages(c, data, info, managed)) continue;
    out[f.name] = data[f.name];
  }
  if (expand && Object.keys(expand).length > 0) out.expand = expand;
  return out;
}

/** A node of the `fields` parameter: `true` takes the key whole. */
type Pick = { [key: string]: Pick | PickLeaf };
interface PickLeaf {
  leaf: true;
  excerpt?: { length: number; ellipsis: boolean };
}

const EXCERPT = /^(\w+|\*):excerpt\((\d{1,6})(?:\s*,\s*(true|false|1|0))?\)$/;

/** Parses `fields` (`*,title,expand.author.name,body:excerpt(200,true)`) into a tree. */
export function parseFields(raw: string): Pick | null {
  if (typeof raw !== 'string') throw Errors.invalidQuery('fields', 'must be a string');
  if (raw.trim() === '') return null;
  if (raw.length > 2000) throw Errors.invalidQuery('fields', 'too long');
  const root: Pick = {};
  const parts = raw.split(/,(?![^(]*\))/);
  if (parts.length > 100) throw Errors.invalidQuery('fields', 'too many fields');
  for (const part of parts) {
    const path = part.trim();
    if (path === '') continue;
    const segments = path.split('.');
    if (segments.length > 8) throw Errors.invalidQuery('fields', `"${path.slice(0, 50)}" is too deep`);
    let node = root;
    segments.forEach((seg, i) => {
      const last = i === segments.length - 1;
      const m = last ? EXCERPT.exec(seg) : null;
      const key = m ? (m[1] as string) : seg;
      if (!/^(\w+|\*)$/.test(key)) throw Errors.invalidQuery('fields', `invalid field "${path.slice(0, 50)}"`);
      if (last) {
        const leaf: PickLeaf = { leaf: true };
        if (m) leaf.excerpt = { length: Number(m[2]), ellipsis: m[3] === 'true' || m[3] === '1' };
        node[key] = leaf;
      } else {
        const existing = node[key];
        if (!existing || (existing as PickLeaf).leaf) node[key] = {};
        node = node[key] as Pick;
      }
    });
  }
  return root;
}

/** Checks the top level of a `fields` tree names only what the caller can see in `c`. */
export function checkFields(pick: Pick, c: Collection, info: RequestInfo | null): void {
  const superuser = isSuperuser(info);
  for (const key of Object.keys(pick)) {
    if (key === '*' || key === 'collectionId' || key === 'collectionName' || key === 'expand') continue;
    const f = c.fields.find((x) => x.name === key);
    if (!f || kindOf(f).output === 'never' || (f.hidden && !superuser) || (c.type === 'auth' && f.name === 'tokenKey')) {
      throw Errors.invalidQuery('fields', `unknown field "${key}"`);
    }
  }
}

function excerpt(value: unknown, length: number, ellipsis: boolean): unknown {
  if (typeof value !== 'string') return value;
  const text = value
    .replace(/<(script|style)[^>]*>[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  const chars = [...text];
  if (chars.length <= length) return text;
  return chars.slice(0, length).join('').trimEnd() + (ellipsis ? '...' : '');
}

/** Keeps only the picked keys of a JSON value (arrays element-wise). */
export function pickFields(value: unknown, pick: Pick): unknown {
  if (Array.isArray(value)) return value.map((v) => pickFields(v, pick));
  if (typeof value !== 'object' || value === null) return value;
  const src = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  const star = pick['*'];
  if (star) {
    for (const [k, v] of Object.entries(src)) {
      out[k] = (star as PickLeaf).leaf ? applyLeaf(v, star as PickLeaf) : pickFields(v, star as Pick);
    }
  }
  for (const [k, node] of Object.entries(pick)) {
    if (k === '*' || !(k in src)) continue;
    out[k] = (node as PickLeaf).leaf ? applyLeaf(src[k], node as PickLeaf) : pickFields(src[k], node as Pick);
  }
  return out;
}

function applyLeaf(v: unknown, leaf: PickLeaf): unknown {
  return leaf.excerpt ? excerpt(v, leaf.excerpt.length, leaf.excerpt.ellipsis) : v;
}

export type { Pick as FieldsPick };
