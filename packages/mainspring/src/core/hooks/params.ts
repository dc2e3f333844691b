import { type Expr, FilterError, type Operand, parseFilter } from '../../query/index.js';

/**
 * Server code's filters with placeholders, PocketBase's `{:name}`:
 * `stock >= {:qty} && owner = {:user}`. A value is put into the parsed tree
 * as a literal (never spliced into the text), so no quoting can go wrong.
 */

const PLACEHOLDER = /\{:([A-Za-z_][A-Za-z0-9_]*)\}/y;
const MARK = '__ms_param_';

/** Parses `filter`, with each `{:name}` standing for `params[name]`. */
export function withParams(filter: string, params: Record<string, unknown> = {}): Expr {
  // placeholders outside quoted text become identifiers the parser accepts…
  let text = '';
  let quote = '';
  for (let i = 0; i < filter.length; ) {
    const ch = filter[i] as string;
    if (quote) {
      if (ch === quote && filter[i - 1] !== '\\') quote = '';
      text += ch;
      i++;
      continue;
    }
    if (ch === '"' || ch === "'") quote = ch;
    PLACEHOLDER.lastIndex = i;
    const m = ch === '{' ? PLACEHOLDER.exec(filter) : null;
    if (m) {
      text += ` ${MARK}${m[1]} `;
      i += m[0].length;
    } else {
      text += ch;
      i++;
    }
  }
  // …which are then replaced by the values
  return mapExpr(parseFilter(text), (name) => literal(name.slice(MARK.length), params));
}

function literal(name: string, params: Record<string, unknown>): Operand {
  if (!Object.hasOwn(params, name)) throw new FilterError(`no value for the placeholder {:${name}}`);
  const v = params[name];
  if (v === null || v === undefined) return { kind: 'ident', name: 'null' };
  if (typeof v === 'boolean') return { kind: 'ident', name: v ? 'true' : 'false' };
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new FilterError(`{:${name}} is not a finite number`);
    return { kind: 'number', value: v };
  }
  if (typeof v === 'string') return { kind: 'text', value: v };
  if (v instanceof Date) return { kind: 'text', value: v.toISOString().replace('T', ' ') };
  throw new FilterError(`{:${name}} must be a string, a number, a boolean, a Date or null`);
}

function mapExpr(e: Expr, param: (name: string) => Operand): Expr {
  if (e.kind === 'cmp') return { ...e, left: mapOperand(e.left, param), right: mapOperand(e.right, param) };
  return { ...e, items: e.items.map((x) => mapExpr(x, param)) };
}

function mapOperand(o: Operand, param: (name: string) => Operand): Operand {
  if (o.kind === 'ident' && o.name.startsWith(MARK)) return param(o.name);
  if (o.kind === 'call') return { ...o, args: o.args.map((a) => mapOperand(a, param)) };
  return o;
}
