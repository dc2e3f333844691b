import { isRelation, kindOf, type TypeContext } from '../fields/index.js';
import { type Collection, type Field, isMultiple } from './model.js';

/**
 * TypeScript types of an app's records (`mainspring typegen`): per
 * collection the record as stored (`PostsRecord`), as the API answers it
 * (`PostsResponse<Expand>` with its relations' expand), what a create and
 * an update take (`PostsCreate`, `PostsUpdate` with the `field+`/`field-`
 * modifiers), select values as unions; then `TypedPocketBase` for the
 * official SDK and `TypedMainspring` for hooks, both typed per collection.
 */

/** Type names of the collections: PascalCase of each name (`_superusers` → `Superusers`), distinct from one another. */
export function typeNames(collections: readonly Collection[]): Map<string, string> {
  const names = new Map<string, string>();
  const taken = new Set<string>();
  for (const c of collections) {
    const base =
      c.name
        .split(/[^A-Za-z0-9]+/)
        .filter(Boolean)
        .map((w) => (w[0] ?? '').toUpperCase() + w.slice(1))
        .join('') || 'Collection';
    let name = /^[0-9]/.test(base) ? `C${base}` : base;
    for (let i = 2; taken.has(name.toLowerCase()); i++) name = `${base}${i}`;
    taken.add(name.toLowerCase());
    names.set(c.id, name);
  }
  return names;
}

/** Which parts to write: types for the SDK (imports `pocketbase`), for hooks (imports `mainspring`), or both. */
export interface TypegenOptions {
  sdk?: boolean;
  hooks?: boolean;
}

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
const key = (name: string) => (IDENTIFIER.test(name) ? name : JSON.stringify(name));
const literal = (value: string) => JSON.stringify(value);
const pascal = (name: string) =>
  name
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean)
    .map((w) => (w[0] ?? '').toUpperCase() + w.slice(1))
    .join('');

/** Fields the API never answers: passwords, and the auth record's token key. */
const isSecret = (c: Collection, f: Field) => kindOf(f).output === 'never' || (c.type === 'auth' && f.name === 'tokenKey');

/** A field's lines of an update body's type: its value, and the modifiers it takes. */
function updateLines(f: Field, ctx: TypeContext, line: (text: string) => void): void {
  const kind = kindOf(f);
  const input = kind.typescript.input(f, ctx);
  const value = kind.write === 'files' ? `${input} | ${kind.typescript.value(f, ctx)} | null` : input;
  line(`  ${key(f.name)}?: ${value};`);
  switch (kind.modifiers) {
    case 'add':
      line(`  ${key(`${f.name}+`)}?: number;\n  ${key(`${f.name}-`)}?: number;`);
      break;
    case 'list':
      if (isMultiple(f)) {
        const either = `${input} | ${input.replace('[]', '')}`;
        line(`  ${key(`${f.name}+`)}?: ${either};\n  ${key(`+${f.name}`)}?: ${either};`);
        line(`  ${key(`${f.name}-`)}?: ${either};`);
      }
      break;
    case 'files':
      if (isMultiple(f)) line(`  ${key(`${f.name}+`)}?: FileInput | FileInput[];`);
      line(`  ${key(`${f.name}-`)}?: FilenameString | FilenameString[];`);
      break;
    case null:
      break;
  }
}

type Line = (text?: string) => void;

/** The TypeScript module; deterministic for one schema. */
export function typescriptTypes(collections: readonly Collection[], options: TypegenOptions = {}): string {
  const sdk = options.sdk ?? true;
  const hooks = options.hooks ?? true;
  const names = typeNames(collections);
  const out: string[] = [];
  const line: Line = (text = '') => out.push(text);

  preamble(collections, sdk, hooks, line);
  const byId = new Map(collections.map((c) => [c.id, c]));
  for (const c of collections) collectionTypes(c, names, byId, line);
  line('/** Any record as the API answers it. */');
  line('export type BaseResponse = { id: RecordIdString; collectionId: string; collectionName: string; expand?: unknown };');
  line('/** One group of `GET /api/ms/collections/{c}/aggregate`: its keys and values, under the aliases the request gave. */');
  line('export type AggregateRow = Record<string, string | number | boolean | null>;');
  line('/** A page of groups: `pb.send<AggregatePage<{ month: string; total: number }>>(path, { query })`. */');
  line('export type AggregatePage<Row extends AggregateRow = AggregateRow> = {');
  line('  page: number;\n  perPage: number;\n  totalItems: number;\n  totalPages: number;\n  items: Row[];');
  line('};');
  line();
  const map = (title: string, suffix: string) => {
    line(`/** ${title}, by collection name. */`);
    line(`export type Collection${suffix}s = {`);
    for (const c of collections) line(`  ${key(c.name)}: ${names.get(c.id)}${suffix};`);
    line('};');
  };
  map('Records as stored', 'Record');
  map('Records as answered', 'Response');
  map('Create bodies', 'Create');
  map('Update bodies', 'Update');
  if (sdk) sdkTypes(collections, names, line);
  if (hooks) hookTypes(line);
  return `${out.join('\n')}\n`;
}

/** The imports, the string aliases every collection's types use, and `CollectionName`. */
function preamble(collections: readonly Collection[], sdk: boolean, hooks: boolean, line: Line): void {
  line("// Generated by `mainspring typegen` from the app's schema: run it again after a schema change, do not edit.");
  if (sdk) line('import type PocketBase from "pocketbase";\nimport type { RecordService } from "pocketbase";');
  if (hooks) line('import type { Handler, Mainspring, RecordAfterEvent, RecordEvent } from "mainspring";');
  line();
  line("/** A date as the API writes it: 'YYYY-MM-DD HH:MM:SS.sssZ' (UTC), or '' when unset. */");
  line('export type IsoDateString = string;');
  line('/** A record id: 15 characters of [a-z0-9] by default. */');
  line('export type RecordIdString = string;');
  line('/** A stored file name, served at /api/files/{collection}/{id}/{name}. */');
  line('export type FilenameString = string;');
  line('/** An editor field: HTML. */');
  line('export type HTMLString = string;');
  line('/** A file to upload: the SDK sends a create or update with one as multipart. */');
  line('export type FileInput = File | Blob;');
  line();
  line(`/** Every collection's name. */`);
  line(`export type CollectionName = ${collections.map((c) => literal(c.name)).join(' | ') || 'never'};`);
  line();
}

/** One collection's Record, Expand, Response, Create and Update types. */
function collectionTypes(c: Collection, names: Map<string, string>, byId: Map<string, Collection>, line: Line): void {
  const name = names.get(c.id) as string;
  const ctx: TypeContext = { named: (f, suffix) => `${name}${pascal(f.name)}${suffix}` };
  const fields = c.fields.filter((f) => !isSecret(c, f));
  line(`// ---- ${c.name} (${c.type}${c.system ? ', system' : ''})`);
  line();
  for (const f of fields) for (const declaration of kindOf(f).typescript.declarations(f, ctx)) line(declaration);
  line(`/** A \`${c.name}\` record as stored (what hooks see; the API leaves out hidden fields for non-superusers). */`);
  line(`export type ${name}Record = {`);
  for (const f of fields) {
    // an auth record's email is left out of answers when it is not the caller's to see
    const optional = c.type === 'auth' && f.name === 'email' ? '?' : '';
    line(`  ${key(f.name)}${optional}: ${kindOf(f).typescript.value(f, ctx)};`);
  }
  line('};');
  line(`/** What \`expand\` can hold for a \`${c.name}\` record: its relations (back-relations are yours to add). */`);
  line(`export type ${name}Expand = {`);
  for (const f of fields.filter(isRelation)) {
    const target = byId.get(f.collectionId);
    const type = target ? `${names.get(target.id)}Response` : 'BaseResponse';
    line(`  ${key(f.name)}?: ${isMultiple(f) ? `${type}[]` : type};`);
  }
  line('};');
  line(`/** A \`${c.name}\` record as the API answers it. */`);
  line(`export type ${name}Response<Texpand = ${name}Expand> = ${name}Record & {`);
  line(`  collectionId: ${literal(c.id)};`);
  line(`  collectionName: ${literal(c.name)};`);
  line('  expand?: Texpand;');
  line('};');

  if (c.type === 'view') {
    line(`/** A view's records are its query's rows: nothing creates or updates them. */`);
    line(`export type ${name}Create = never;`);
    line(`export type ${name}Update = never;`);
    line();
    return;
  }
  const writable = c.fields.filter((f) => kindOf(f).write !== 'system' && !(c.type === 'auth' && f.name === 'tokenKey'));
  line(`/** What creating a \`${c.name}\` record takes. */`);
  line(`export type ${name}Create = {`);
  for (const f of writable) line(`  ${key(f.name)}${kindOf(f).mustSend(f) ? '' : '?'}: ${kindOf(f).typescript.input(f, ctx)};`);
  if (c.type === 'auth') line('  passwordConfirm: string;');
  line('};');
  line(`/** What updating a \`${c.name}\` record takes, modifiers included. */`);
  line(`export type ${name}Update = {`);
  for (const f of writable) if (f.name !== 'id') updateLines(f, ctx, line);
  if (c.type === 'auth') line('  passwordConfirm?: string;\n  oldPassword?: string;');
  line('};');
  line();
}

/** The official SDK typed per collection. */
function sdkTypes(collections: readonly Collection[], names: Map<string, string>, line: Line): void {
  line();
  line('/** The official SDK, typed per collection: `const pb = new PocketBase(url) as TypedPocketBase`. */');
  line('export type TypedPocketBase = PocketBase & {');
  for (const c of collections) line(`  collection(idOrName: ${literal(c.name)}): RecordService<${names.get(c.id)}Response>;`);
  line('  collection(idOrName: string): RecordService;');
  line('};');
}

/** The hooks API with record hooks typed per collection. */
function hookTypes(line: Line): void {
  line();
  line("/** A record event whose record is the collection's type. */");
  line('export type TypedRecordEvent<C extends CollectionName> = Omit<RecordEvent, "record" | "original"> & {');
  line('  record: CollectionRecords[C];');
  line('  readonly original: CollectionRecords[C] | null;');
  line('};');
  line("/** An after-commit event whose record is the collection's type. */");
  line('export type TypedRecordAfterEvent<C extends CollectionName> = Omit<RecordAfterEvent, "record" | "original"> & {');
  line('  readonly record: CollectionRecords[C];');
  line('  readonly original: CollectionRecords[C] | null;');
  line('};');
  const events = ['onRecordCreate', 'onRecordUpdate', 'onRecordDelete'];
  const after = [
    'onRecordAfterCreateSuccess',
    'onRecordAfterUpdateSuccess',
    'onRecordAfterDeleteSuccess',
    'onRecordAfterCreateError',
    'onRecordAfterUpdateError',
    'onRecordAfterDeleteError',
  ];
  line('/**');
  line(' * The hooks API with record hooks typed per collection:');
  line(' * `export default (ms: TypedMainspring) => ms.onRecordCreate((e) => { e.record.title }, "posts")`.');
  line(' */');
  line(`export type TypedMainspring = Omit<Mainspring, ${[...events, ...after].map(literal).join(' | ')}> & {`);
  for (const e of events) line(`  ${e}<C extends CollectionName>(handler: Handler<TypedRecordEvent<C>>, ...collections: C[]): number;`);
  for (const e of after) line(`  ${e}<C extends CollectionName>(handler: Handler<TypedRecordAfterEvent<C>>, ...collections: C[]): number;`);
  line('};');
}
