import { CompletionContext } from '@codemirror/autocomplete';
import { EditorState } from '@codemirror/state';
import { classHighlighter, highlightTree } from '@lezer/highlight';
import { describe, expect, test } from 'vitest';
import { rulePaths } from '../src/completions.js';
import { jsonLanguage, pathCompletion, ruleLanguage } from '../src/editor.js';

/**
 * What the rule editor completes, on hand-written collections: `@request.auth.*` from the auth collections
 * (not `_superusers`, no hidden field), relation paths, `@collection.*`, and completion by prefix after the
 * last dot. The editor itself (highlighting, the popup) is tested in Chromium by dashboard.e2e.test.ts.
 */

const field = (name: string, type = 'text', more: Record<string, unknown> = {}) => ({ name, type, hidden: false, ...more });
const collections = [
  {
    id: 'su',
    name: '_superusers',
    type: 'auth',
    system: true,
    fields: [field('id'), field('email', 'email'), field('password', 'password', { hidden: true }), field('root', 'bool')],
  },
  {
    id: 'u',
    name: 'users',
    type: 'auth',
    system: false,
    fields: [
      field('id'),
      field('email', 'email'),
      field('password', 'password', { hidden: true }),
      field('tokenKey', 'text', { hidden: true }),
      field('name'),
      field('team', 'relation', { collectionId: 't' }),
    ],
  },
  { id: 's', name: 'staff', type: 'auth', system: false, fields: [field('id'), field('email', 'email'), field('badge')] },
  { id: 't', name: 'teams', type: 'base', system: false, fields: [field('id'), field('title'), field('secret', 'text', { hidden: true })] },
  { id: 'o', name: '_otps', type: 'base', system: true, fields: [field('id')] },
];
const draft = { id: 'p', name: 'posts', type: 'base' };
const fields = [field('id'), field('title'), field('author', 'relation', { collectionId: 'u' }), field('')];

describe('rulePaths', () => {
  const paths = rulePaths(draft, fields, collections);

  test('fields, one level through relations, and @request.body.*', () => {
    expect(paths).toEqual(expect.arrayContaining(['title', 'author', 'author.email', 'author.name', 'author.team', '@request.body.title']));
    expect(paths).not.toContain('author.password');
    expect(paths).not.toContain('');
  });

  test('@request.auth.* has the visible fields of every auth collection but _superusers, and their relations', () => {
    const auth = paths.filter((p) => p.startsWith('@request.auth.')).sort();
    expect(auth).toEqual([
      '@request.auth.badge',
      '@request.auth.collectionName',
      '@request.auth.email',
      '@request.auth.id',
      '@request.auth.name',
      '@request.auth.team',
      '@request.auth.team.id',
      '@request.auth.team.title',
    ]);
  });

  test('@collection.* names the collections that are not system ones, with their fields', () => {
    expect(paths).toEqual(expect.arrayContaining(['@collection.users', '@collection.teams.title', '@collection.staff.badge']));
    expect(paths.some((p) => p.startsWith('@collection._'))).toBe(false);
  });

  test('an auth collection being drafted lends @request.auth.* its own fields as drafted', () => {
    const drafted = rulePaths({ id: 'u', name: 'users', type: 'auth' }, [field('id'), field('nickname')], collections);
    expect(drafted).toContain('@request.auth.nickname');
    expect(drafted).not.toContain('@request.auth.name');
    expect(drafted).toContain('@collection.users.nickname');
  });
});

describe('pathCompletion', () => {
  const complete = (doc: string, explicit = false) => {
    const source = pathCompletion(() => rulePaths(draft, fields, collections));
    const state = EditorState.create({ doc });
    const result = source(new CompletionContext(state, doc.length, explicit));
    return result && 'options' in result ? { from: result.from, labels: result.options.map((o) => o.label) } : null;
  };

  test('what follows the last dot, by prefix', () => {
    expect(complete('title = "x" && @request.auth.')).toEqual({
      from: 'title = "x" && @request.auth.'.length,
      labels: ['id', 'email', 'name', 'team', 'team.id', 'team.title', 'badge', 'collectionName'],
    });
    expect(complete('@request.auth.te')?.labels).toEqual(['team', 'team.id', 'team.title']);
    expect(complete('author.na')).toEqual({ from: 'author.'.length, labels: ['name'] });
    expect(complete('ti')?.labels).toEqual(['title']);
  });

  test('a literal or a word nothing starts with offers nothing; a field never completes to a macro', () => {
    expect(complete('verified = true')).toBeNull();
    expect(complete('title = "x" && ')).toBeNull();
    expect(complete('e')).toBeNull();
    expect(complete('@')?.labels).toContain('@now');
    expect(complete('@')?.labels.every((l) => l.startsWith('@'))).toBe(true);
  });

  test('hostile text completes to nothing and never throws', () => {
    for (const doc of ['"unterminated', '\u0000@request.', '((((', '@collection.__proto__.', 'constructor.', `${'a.'.repeat(5000)}`]) {
      expect(() => complete(doc, true)).not.toThrow();
    }
    expect(complete('@collection.__proto__.')).toBeNull();
  });
});

describe('highlighting', () => {
  /** `[text, class]` of each highlighted token, as the editor would colour it. */
  const tokens = (language: typeof ruleLanguage, text: string) => {
    const out: [string, string][] = [];
    highlightTree(language.parser.parse(text), classHighlighter, (from, to, cls) => out.push([text.slice(from, to), cls]));
    return out;
  };

  test('a rule: macros, paths, the operators longest first, strings, numbers, literals, && ||, comments', () => {
    const rule = `@request.auth.id != "" && (tags:each ?!= 'a\\'b' || n >= -1.5 || ok = true) // why`;
    expect(tokens(ruleLanguage, rule)).toEqual([
      ['@request.auth.id', 'tok-macroName'],
      ['!=', 'tok-operator'],
      ['""', 'tok-string'],
      ['&&', 'tok-keyword'],
      ['(', 'tok-punctuation'],
      ['tags:each', 'tok-propertyName'],
      ['?!=', 'tok-operator'],
      ["'a\\'b'", 'tok-string'],
      ['||', 'tok-keyword'],
      ['n', 'tok-propertyName'],
      ['>=', 'tok-operator'],
      ['-1.5', 'tok-number'],
      ['||', 'tok-keyword'],
      ['ok', 'tok-propertyName'],
      ['=', 'tok-operator'],
      ['true', 'tok-atom'],
      [')', 'tok-punctuation'],
      ['// why', 'tok-comment'],
    ]);
  });

  test('JSON: keys apart from string values; numbers, literals; stray text marked invalid', () => {
    expect(tokens(jsonLanguage, '{"a": ["x", 1e3, null], "b" : false}').map(([t, c]) => `${t} ${c}`)).toEqual([
      '{ tok-punctuation',
      '"a" tok-propertyName',
      ': tok-punctuation',
      '[ tok-punctuation',
      '"x" tok-string',
      ', tok-punctuation',
      '1e3 tok-number',
      ', tok-punctuation',
      'null tok-atom',
      '] tok-punctuation',
      ', tok-punctuation',
      '"b" tok-propertyName',
      ': tok-punctuation',
      'false tok-atom',
      '} tok-punctuation',
    ]);
    expect(tokens(jsonLanguage, '{x}')).toContainEqual(['x', 'tok-invalid']);
  });
});
