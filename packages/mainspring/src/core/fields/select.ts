import { isMultiple, type SelectField } from '../collections/model.js';
import { fieldError } from '../errors.js';
import type { FieldKind, JsonSchema } from './kind.js';
import { checkCount, listColumn, listEmpty, listOf, option, prepareList, REQUIRED_OPTION, required } from './values.js';

/** The schema of a select's value: one of its values ('' when unset), or a list of them. */
function selectSchema(f: SelectField): JsonSchema {
  const one = { type: 'string', enum: [...f.values] };
  return isMultiple(f) ? { type: 'array', items: one, maxItems: f.maxSelect } : { type: 'string', enum: [...f.values, ''] };
}

/** One of a list of values, or several when `maxSelect` is over 1. */
export const select: FieldKind<SelectField> = {
  options: (base, r) => {
    const values = r.stringList('values') ?? [];
    if (values.length === 0) r.errors.values = required();
    return { ...base, required: r.bool('required'), values, maxSelect: r.int('maxSelect', 1, 0, Math.max(values.length, 1)) };
  },
  column: listColumn,
  empty: listEmpty,
  prepare: prepareList,
  validate: (f, v) => {
    const err = checkCount(f, v);
    if (err) return err;
    const bad = listOf(v).find((x) => !f.values.includes(x));
    return bad === undefined ? null : fieldError('validation_invalid_value', `Invalid value ${bad}.`, { value: bad });
  },
  output: 'stored',
  write: 'value',
  modifiers: 'list',
  mustSend: (f) => f.required,
  filter: { valueType: 'text', list: true, json: null },
  identity: null,
  openApi: {
    value: selectSchema,
    input: (f) => {
      const schema = selectSchema(f);
      if (f.values[0] !== undefined) schema.examples = [isMultiple(f) ? [f.values[0]] : f.values[0]];
      return schema;
    },
  },
  typescript: {
    value: (f, ctx) => (isMultiple(f) ? `${ctx.named(f, 'Options')}[]` : `${ctx.named(f, 'Options')} | ""`),
    input: (f, ctx) => (isMultiple(f) ? `${ctx.named(f, 'Options')}[]` : `${ctx.named(f, 'Options')} | ""`),
    declarations: (f, ctx) => [
      `export type ${ctx.named(f, 'Options')} = ${f.values.map((v) => JSON.stringify(v)).join(' | ') || 'never'};`,
    ],
  },
  editor: { label: 'Select', options: [REQUIRED_OPTION, option('values', 'list', []), option('maxSelect', 'number', 1)] },
};
