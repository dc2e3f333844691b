import type { AutodateField } from '../collections/model.js';
import { fieldError } from '../errors.js';
import type { FieldKind } from './kind.js';
import { asString, DATE_SCHEMA, noDeclarations, option } from './values.js';

/** The time a record was created or updated, set by the write; whatever a body sends is ignored. */
export const autodate: FieldKind<AutodateField> = {
  options: (base, r) => {
    const onCreate = r.bool('onCreate', true);
    const onUpdate = r.bool('onUpdate', false);
    if (!onCreate && !onUpdate) {
      r.errors.onCreate = fieldError('validation_required', 'Either onCreate or onUpdate must be enabled.');
    }
    return { ...base, onCreate, onUpdate };
  },
  column: () => 'date',
  empty: () => '',
  prepare: (_f, raw, source) => asString(raw, source),
  validate: () => null,
  output: 'stored',
  write: 'system',
  modifiers: null,
  mustSend: () => false,
  filter: { valueType: 'date', list: false, json: null },
  identity: null,
  openApi: { value: () => ({ ...DATE_SCHEMA }), input: () => ({ ...DATE_SCHEMA }) },
  typescript: { value: () => 'IsoDateString', input: () => 'IsoDateString', declarations: noDeclarations },
  editor: { label: 'Autodate', options: [option('onCreate', 'bool', true), option('onUpdate', 'bool', false)] },
};
