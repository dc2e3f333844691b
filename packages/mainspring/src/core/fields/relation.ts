import { isMultiple, type RelationField } from '../collections/model.js';
import { fieldError } from '../errors.js';
import { type FieldKind, REFERS, type SchemaContext } from './kind.js';
import {
  checkCount,
  listColumn,
  listEmpty,
  listOf,
  listSchema,
  noDeclarations,
  option,
  prepareList,
  REQUIRED_OPTION,
  required,
} from './values.js';

/** The id, or ids, of records of the related collection, naming it where the document shows it. */
function relationSchema(f: RelationField, ctx: SchemaContext) {
  const schema = listSchema(f);
  const target = ctx.shown(f.collectionId);
  return target ? { ...schema, description: `The id of a \`${target}\` record.`, [REFERS]: `record:${target}` } : schema;
}

/** The id of a record of another collection, or several when `maxSelect` is over 1. */
export const relation: FieldKind<RelationField> = {
  options: (base, r) => {
    const collectionId = r.string('collectionId', '', 100);
    if (!collectionId) r.errors.collectionId = required();
    return {
      ...base,
      required: r.bool('required'),
      collectionId,
      cascadeDelete: r.bool('cascadeDelete'),
      minSelect: r.int('minSelect', 0),
      maxSelect: r.int('maxSelect', 1, 0, 10_000),
    };
  },
  column: listColumn,
  empty: listEmpty,
  prepare: prepareList,
  // that the ids exist is checked with the row (records/row-writes.ts)
  validate: (f, v) => {
    const err = checkCount(f, v);
    if (err) return err;
    const n = listOf(v).length;
    if (n > 0 && f.minSelect > 0 && n < f.minSelect) {
      return fieldError('validation_not_enough_values', `Select at least ${f.minSelect}.`, { minSelect: f.minSelect });
    }
    return null;
  },
  output: 'stored',
  write: 'value',
  modifiers: 'list',
  mustSend: (f) => f.required,
  filter: { valueType: 'text', list: true, json: null },
  identity: null,
  openApi: { value: relationSchema, input: relationSchema },
  typescript: {
    value: (f) => (isMultiple(f) ? 'RecordIdString[]' : 'RecordIdString'),
    input: (f) => (isMultiple(f) ? 'RecordIdString[]' : 'RecordIdString'),
    declarations: noDeclarations,
  },
  editor: {
    label: 'Relation',
    options: [
      REQUIRED_OPTION,
      option('collectionId', 'collection', ''),
      option('minSelect', 'number', 0),
      option('maxSelect', 'number', 1),
      option('cascadeDelete', 'bool', false),
    ],
  },
};
