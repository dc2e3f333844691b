import type { EmailField } from '../collections/model.js';
import { fieldError } from '../errors.js';
import type { FieldKind } from './kind.js';
import { asString, checkDomain, noDeclarations, option, PLAIN_STRING, REQUIRED_OPTION, required, STRING } from './values.js';

const EMAIL =
  /^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+$/;

/** An email address (trimmed), with domains allowed or refused. */
export const email: FieldKind<EmailField> = {
  options: (base, r) => ({
    ...base,
    required: r.bool('required'),
    exceptDomains: r.stringList('exceptDomains'),
    onlyDomains: r.stringList('onlyDomains'),
  }),
  ...PLAIN_STRING,
  prepare: (_f, raw, source) => {
    const s = asString(raw, source);
    return typeof s === 'string' ? s.trim() : s;
  },
  validate: (f, v) => {
    const value = v as string;
    if (value === '') return f.required ? required() : null;
    if (value.length > 255 || !EMAIL.test(value)) return fieldError('validation_is_email', 'Must be a valid email address.');
    return checkDomain(value.slice(value.lastIndexOf('@') + 1), f, 'validation_email_domain_not_allowed', 'Email');
  },
  output: 'stored',
  write: 'value',
  mustSend: (f) => f.required,
  identity: 'caseless',
  openApi: {
    value: () => ({ ...STRING }),
    input: (f) => ({ ...STRING, examples: [`ann@${f.onlyDomains?.[0] ?? 'example.com'}`] }),
  },
  typescript: { value: () => 'string', input: () => 'string', declarations: noDeclarations },
  editor: {
    label: 'Email',
    options: [REQUIRED_OPTION, option('exceptDomains', 'list', null), option('onlyDomains', 'list', null)],
  },
};
