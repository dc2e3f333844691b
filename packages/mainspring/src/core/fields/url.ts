import type { UrlField } from '../collections/model.js';
import { fieldError } from '../errors.js';
import type { FieldKind } from './kind.js';
import { checkDomain, noDeclarations, option, PLAIN_STRING, REQUIRED_OPTION, required, STRING } from './values.js';

const invalidUrl = () => fieldError('validation_invalid_url', 'Must be a valid url.');

/** An absolute URL with a host (never `javascript:`), with domains allowed or refused. */
export const url: FieldKind<UrlField> = {
  options: (base, r) => ({
    ...base,
    required: r.bool('required'),
    exceptDomains: r.stringList('exceptDomains'),
    onlyDomains: r.stringList('onlyDomains'),
  }),
  ...PLAIN_STRING,
  validate: (f, v) => {
    const value = v as string;
    if (value === '') return f.required ? required() : null;
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      return invalidUrl();
    }
    if (!/^[a-z][a-z0-9+.-]*:$/.test(parsed.protocol) || parsed.protocol === 'javascript:' || !parsed.host) return invalidUrl();
    return checkDomain(parsed.hostname, f, 'validation_url_domain_not_allowed', 'Url');
  },
  output: 'stored',
  write: 'value',
  mustSend: (f) => f.required,
  identity: null,
  openApi: {
    value: () => ({ ...STRING }),
    input: (f) => ({ ...STRING, examples: [`https://${f.onlyDomains?.[0] ?? 'example.com'}/`] }),
  },
  typescript: { value: () => 'string', input: () => 'string', declarations: noDeclarations },
  editor: {
    label: 'URL',
    options: [REQUIRED_OPTION, option('exceptDomains', 'list', null), option('onlyDomains', 'list', null)],
  },
};
