// The code editor (CodeMirror 6) of the rule and JSON inputs. Loaded on demand as a chunk of its own
// (CodeEditor.svelte imports it when it first mounts), so the records screen never pays for it.
import { autocompletion, closeBrackets, closeBracketsKeymap, completionKeymap } from '@codemirror/autocomplete';
import { history, historyKeymap, standardKeymap } from '@codemirror/commands';
import { bracketMatching, StreamLanguage, syntaxHighlighting } from '@codemirror/language';
import { EditorState } from '@codemirror/state';
import { EditorView, keymap, placeholder } from '@codemirror/view';
import { classHighlighter } from '@lezer/highlight';

// PocketBase's filter operators, longest first so `?!~` is not read as `?` then `!~`
const OPERATORS = /^(\?!=|\?>=|\?<=|\?!~|!=|>=|<=|!~|\?=|\?>|\?<|\?~|=|>|<|~)/;

/** The rule and filter language: fields and paths, `@` macros, operators, strings, numbers, `&& ||`, parentheses, `//` comments. */
export const ruleLanguage = StreamLanguage.define({
  name: 'pbrule',
  token(stream) {
    if (stream.eatSpace()) return null;
    if (stream.match('//')) {
      stream.skipToEnd();
      return 'comment';
    }
    if (stream.peek() === '"' || stream.peek() === "'") {
      quoted(stream);
      return 'string';
    }
    if (stream.match(/^@[\w.]*(:\w+)?/)) return 'macroName';
    if (stream.match(/^-?\d+(\.\d+)?/)) return 'number';
    if (stream.match(/^(&&|\|\|)/)) return 'keyword';
    if (stream.match(OPERATORS)) return 'operator';
    if (stream.match(/^(true|false|null)\b/)) return 'atom';
    if (stream.match(/^[A-Za-z_][\w]*(\.[\w]+)*(:\w+)?/)) return 'propertyName';
    if (stream.match(/^[()]/)) return 'paren';
    stream.next();
    return 'invalid';
  },
  languageData: { closeBrackets: { brackets: ['(', '"', "'"] } },
});

/** Reads a quoted string whose opening quote is next in `stream`. */
function quoted(stream) {
  const quote = stream.next();
  let escaped = false;
  for (let ch = stream.next(); ch !== undefined; ch = stream.next()) {
    if (ch === quote && !escaped) return;
    escaped = !escaped && ch === '\\';
  }
}

/**
 * JSON, highlighted by a stream of tokens (a Lezer grammar would cost the package ~10 kB packed for the
 * same colours; the panel checks the text with JSON.parse): keys, strings, numbers, literals, brackets.
 */
export const jsonLanguage = StreamLanguage.define({
  name: 'json',
  token(stream) {
    if (stream.eatSpace()) return null;
    if (stream.peek() === '"') {
      quoted(stream);
      // a string followed by a colon is a key
      return stream.match(/^\s*:/, false) ? 'propertyName' : 'string';
    }
    if (stream.match(/^-?\d+(\.\d+)?([eE][+-]?\d+)?/)) return 'number';
    if (stream.match(/^(true|false|null)\b/)) return 'atom';
    if (stream.match(/^[{}[\]]/)) return 'bracket';
    if (stream.match(/^[,:]/)) return 'punctuation';
    stream.next();
    return 'invalid';
  },
  languageData: { closeBrackets: { brackets: ['[', '{', '"'] } },
});

/**
 * Completion from a list of full paths (`title`, `author.email`, `@request.auth.verified`, …): what follows
 * the last dot typed, among the paths under what comes before it. `paths()` is read at each completion,
 * so fields added to the draft complete at once.
 */
export function pathCompletion(paths) {
  return (context) => {
    const word = context.matchBefore(/@?[\w.:]*/);
    if (!word || (word.from === word.to && !context.explicit)) return null;
    const dot = word.text.lastIndexOf('.');
    const base = word.text.slice(0, dot + 1);
    const seen = new Set();
    const options = [];
    for (const p of paths()) {
      // by prefix, not CodeMirror's fuzzy match (which offers `author.updated` for `true`);
      // a field completes among fields, an `@` macro among macros
      if (!p.startsWith(word.text) || p === word.text || p.startsWith('@') !== word.text.startsWith('@')) continue;
      const rest = p.slice(base.length);
      if (seen.has(rest)) continue;
      seen.add(rest);
      options.push({ label: rest, type: p.startsWith('@') ? (base === '' ? 'keyword' : 'property') : 'variable' });
    }
    return options.length ? { from: word.from + dot + 1, options, filter: false } : null;
  };
}

// colours from the page's custom properties, so the editor follows the light and dark themes
const theme = EditorView.theme({
  '&': { color: 'var(--text)', backgroundColor: 'var(--field)', border: '1px solid var(--line)', borderRadius: 'var(--radius)' },
  '&.cm-focused': { outline: '2px solid var(--accent)', outlineOffset: '1px' },
  '.cm-content': { caretColor: 'var(--text)', fontFamily: 'var(--mono)', padding: '6px 0' },
  '.cm-line': { padding: '0 8px' },
  '.cm-cursor': { borderLeftColor: 'var(--text)' },
  '&.cm-focused .cm-selectionBackground, .cm-selectionBackground, .cm-content ::selection': { backgroundColor: 'var(--selection)' },
  '.cm-placeholder': { color: 'var(--muted)' },
  '.cm-tooltip': { backgroundColor: 'var(--panel)', color: 'var(--text)', border: '1px solid var(--line)', borderRadius: 'var(--radius)' },
  '.cm-tooltip-autocomplete > ul > li': { padding: '2px 8px', fontFamily: 'var(--mono)' },
  '.cm-tooltip-autocomplete > ul > li[aria-selected]': { backgroundColor: 'var(--accent)', color: 'var(--accent-text)' },
  '.cm-matchingBracket': { backgroundColor: 'var(--selection)' },
});

/**
 * An editor in `parent`: `language` 'rule' (with completion from `paths`) or 'json'. `onchange` gets the
 * text after each edit; `readonly` shows without editing; `attrs` go on the editable element (id, aria-*), so a label and tests find it.
 */
export function createEditor({ parent, value, language, paths, attrs, hint, readonly, onchange }) {
  const extensions = [
    history(),
    closeBrackets(),
    bracketMatching(),
    syntaxHighlighting(classHighlighter),
    keymap.of([...closeBracketsKeymap, ...completionKeymap, ...standardKeymap, ...historyKeymap]),
    EditorView.lineWrapping,
    EditorView.contentAttributes.of({ spellcheck: 'false', autocorrect: 'off', autocapitalize: 'off', ...attrs }),
    EditorView.updateListener.of((u) => {
      if (u.docChanged) onchange(u.state.doc.toString());
    }),
    theme,
  ];
  if (hint) extensions.push(placeholder(hint));
  if (readonly) extensions.push(EditorState.readOnly.of(true), EditorView.editable.of(false));
  if (language === 'json') extensions.push(jsonLanguage);
  else extensions.push(ruleLanguage, autocompletion({ override: [pathCompletion(paths)], icons: false, activateOnTypingDelay: 50 }));
  return new EditorView({ parent, state: EditorState.create({ doc: value, extensions }) });
}

/** Replaces the editor's text when it was changed from outside (a reset, a lock and unlock). */
export function setText(view, text) {
  const now = view.state.doc.toString();
  if (now !== text) view.dispatch({ changes: { from: 0, to: now.length, insert: text } });
}
