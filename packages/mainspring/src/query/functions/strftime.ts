import type { Operand } from '../ast.js';
import type { Resolved } from '../compile.js';
import { FilterError } from '../errors.js';
import { parseStrftimeFormat, parseStrftimeModifier, type StrftimeCall, type StrftimeTime, strftimeTimeText } from '../strftime.js';
import type { FilterFunctionContext } from './index.js';

/**
 * PocketBase's `strftime(format, [time, modifiers…])`: the time as text in
 * `format` (SQLite's conversions, those both engines give alike; see
 * query/strftime.ts), NULL (so '') when the time is. The time is a date
 * field, a date text, 'now' (the default) or a date macro; the modifiers
 * shift it (`'+1 day'`) or take the start of its year, month or day. Each
 * engine writes its own SQL (`SqlFlavor.strftime`).
 */
export function strftime(args: readonly Operand[], ctx: FilterFunctionContext): Resolved {
  if (args.length < 1 || args.length > 10) {
    throw new FilterError(`strftime takes a format, a time and at most 8 modifiers, not ${args.length} arguments`);
  }
  const [format, time, ...modifiers] = args as [Operand, ...Operand[]];
  if (format.kind !== 'text') throw new FilterError("strftime's first argument must be a format text, such as '%Y-%m'");
  const call: StrftimeCall = {
    format: format.value,
    parts: parseStrftimeFormat(format.value),
    time: time === undefined ? 'now' : strftimeTime(time, ctx),
    modifiers: modifiers.map((m, i) => {
      if (m.kind !== 'text') throw new FilterError(`strftime's modifier ${i + 1} must be a text, such as '+1 day'`);
      return parseStrftimeModifier(m.value);
    }),
  };
  return { kind: 'sql', sql: ctx.flavor.strftime(call, (v) => ctx.params.add(v, 'text')), type: 'text' };
}

/** The time argument: a date column, a date text, or null (NULL). */
function strftimeTime(operand: Operand, ctx: FilterFunctionContext): StrftimeTime | null {
  const what = "strftime's time must be a date field, a date text or 'now'";
  if (operand.kind === 'number' || operand.kind === 'call') throw new FilterError(what);
  const r = operand.kind === 'text' ? ({ kind: 'value', value: operand.value } as const) : ctx.resolve(operand);
  if (r.kind === 'value') return typeof r.value === 'string' ? strftimeTimeText(r.value) : null;
  if (r.multi) throw new FilterError("strftime's time has many values per record; strftime takes one");
  if (r.type !== 'date') throw new FilterError(what);
  return { sql: r.sql };
}
