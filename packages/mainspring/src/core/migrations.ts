import type { Dialect, Engine, Executor, Row, SqlValue } from '../storage/engine.js';
import { LOGIN_FAILURES_TABLE } from './auth/lockout.js';
import { USED_TOKENS_TABLE } from './auth/one-time.js';
import { passkeyTablesDDL } from './auth/passkey-store.js';
import { SESSIONS_TABLE } from './auth/service.js';
import { REFRESH_TOKENS_TABLE } from './auth/sessions.js';
import { defaultAuthOptions } from './collections/auth-options.js';
import { parseIndex } from './collections/indexes.js';
import type { Collection } from './collections/model.js';
import { COLLECTIONS_TABLE } from './collections/schema.js';
import type { CollectionService } from './collections/service.js';
import { AUTH_ORIGINS, authRefCollectionInputs, MFAS, OTPS } from './collections/system.js';
import { CRON_RUNS_TABLE } from './crons.js';
import { formatDate } from './dates.js';
import { isAutodate } from './fields/index.js';
import { IDEMPOTENCY_TABLE } from './idempotency.js';
import { newRecordId } from './ids.js';
import { INSTANCES_TABLE } from './instance.js';
import { createLogsTable, LOGS_TABLE } from './logs.js';
import { RATE_LIMITS_TABLE } from './rate-limits.js';
import { SUPERUSERS } from './rules/request-info.js';
import { PARAMS_TABLE } from './settings.js';

/**
 * The system schema as an ordered list of migrations. Each runs once, in its
 * own transaction, and is recorded in `_migrations`; `mainspring migrate` and
 * every start apply the pending ones.
 */
interface Migration {
  readonly name: string;
  up(tx: Executor, engine: Engine, collections: CollectionService): Promise<void>;
}

const MIGRATIONS_TABLE = '_migrations';

/**
 * The tables that held the auth flows' rows until migration 0013 made them
 * collections (`_otps` and `_mfas` had these names already, with other columns).
 */
const OLD_OTPS_TABLE = '_otps';
const OLD_MFAS_TABLE = '_mfas';
const OLD_AUTH_ORIGINS_TABLE = '_ms_auth_origins';

/** Inserts rows of `values` (in `columns` order), a few hundred per statement. */
async function insertMany(tx: Executor, d: Dialect, table: string, columns: readonly string[], rows: readonly SqlValue[][]): Promise<void> {
  const perStatement = 200;
  for (let i = 0; i < rows.length; i += perStatement) {
    const params: SqlValue[] = [];
    const tuples = rows.slice(i, i + perStatement).map((row) => `(${row.map((v) => d.param(params.push(v))).join(', ')})`);
    await tx.run(`INSERT INTO ${d.ident(table)} (${columns.map((c) => d.ident(c)).join(', ')}) VALUES ${tuples.join(', ')}`, params);
  }
}

/** A time in ms since the epoch, as the text of an autodate field. */
const msToDate = (ms: unknown) => formatDate(new Date(Number(ms)));

const MIGRATIONS: readonly Migration[] = [
  {
    name: '0001_init',
    async up(tx, engine, collections) {
      const d = engine.dialect;
      await tx.run(
        d.createTable(COLLECTIONS_TABLE, [
          { name: 'id', kind: 'text', primaryKey: true },
          { name: 'name', kind: 'text' },
          { name: 'type', kind: 'text' },
          { name: 'system', kind: 'bool' },
          { name: 'data', kind: 'json' },
          { name: 'created', kind: 'date' },
          { name: 'updated', kind: 'date' },
        ]),
      );
      await tx.run(
        d.createIndex({ name: 'idx__collections_name', table: COLLECTIONS_TABLE, unique: true, columns: [{ name: 'name', nocase: true }] }),
      );
      await tx.run(
        d.createTable(PARAMS_TABLE, [
          { name: 'id', kind: 'text', primaryKey: true },
          { name: 'value', kind: 'json' },
          { name: 'created', kind: 'date' },
          { name: 'updated', kind: 'date' },
        ]),
      );

      const superusers = collections.scaffold({ id: 'pbc_3142635823', name: SUPERUSERS, type: 'auth' }, true);
      superusers.auth = defaultAuthOptions(86_400);
      for (const f of superusers.fields) if (isAutodate(f)) f.system = true;
      await collections.createIn(tx, superusers);

      const owner = 'id = @request.auth.id';
      const users = collections.scaffold(
        {
          id: '_pb_users_auth_',
          name: 'users',
          type: 'auth',
          listRule: owner,
          viewRule: owner,
          createRule: '',
          updateRule: owner,
          deleteRule: owner,
          fields: [
            { name: 'name', type: 'text', max: 255 },
            {
              name: 'avatar',
              type: 'file',
              maxSelect: 1,
              mimeTypes: ['image/jpeg', 'image/png', 'image/svg+xml', 'image/gif', 'image/webp'],
            },
          ],
        },
        false,
      );
      await collections.createIn(tx, users);
    },
  },
  {
    name: '0002_auth_flows',
    async up(tx, engine) {
      const d = engine.dialect;
      const text = (name: string) => ({ name, kind: 'text' as const });
      const num = (name: string) => ({ name, kind: 'number' as const });
      await tx.run(
        d.createTable(OLD_OTPS_TABLE, [
          { name: 'id', kind: 'text', primaryKey: true },
          text('collection_ref'),
          text('record_ref'),
          text('password'),
          text('sent_to'),
          num('created'),
        ]),
      );
      await tx.run(
        d.createTable(OLD_MFAS_TABLE, [
          { name: 'id', kind: 'text', primaryKey: true },
          text('collection_ref'),
          text('record_ref'),
          text('method'),
          num('created'),
        ]),
      );
      await tx.run(d.createTable(USED_TOKENS_TABLE, [{ name: 'hash', kind: 'text', primaryKey: true }, num('expires')]));
      await tx.run(
        d.createIndex({ name: 'idx__ms_used_tokens_expires', table: USED_TOKENS_TABLE, unique: false, columns: [{ name: 'expires' }] }),
      );
      await tx.run(
        d.createTable(SESSIONS_TABLE, [
          { name: 'id', kind: 'text', primaryKey: true },
          text('collection_ref'),
          text('record_ref'),
          num('created'),
          num('last_used'),
          num('expires'),
          { name: 'revoked', kind: 'bool' },
          text('ip'),
          text('user_agent'),
        ]),
      );
      await tx.run(
        d.createIndex({
          name: 'idx__ms_sessions_record',
          table: SESSIONS_TABLE,
          unique: false,
          columns: [{ name: 'collection_ref' }, { name: 'record_ref' }],
        }),
      );
      await tx.run(
        d.createTable(REFRESH_TOKENS_TABLE, [
          { name: 'hash', kind: 'text', primaryKey: true },
          text('session'),
          num('created'),
          num('used_at'),
        ]),
      );
      await tx.run(
        d.createIndex({
          name: 'idx__ms_refresh_tokens_session',
          table: REFRESH_TOKENS_TABLE,
          unique: false,
          columns: [{ name: 'session' }],
        }),
      );
    },
  },
  {
    // a session remembers a fingerprint of the tokenKey it was started under:
    // a password change (or any tokenKey rotation) then ends it too
    name: '0003_session_token_key',
    async up(tx, engine) {
      await tx.run(engine.dialect.addColumn(SESSIONS_TABLE, { name: 'key_fp', kind: 'text' }));
    },
  },
  {
    // rate-limit counters several instances share (used on PostgreSQL)
    name: '0004_rate_limits',
    async up(tx, engine) {
      await tx.run(
        engine.dialect.createTable(RATE_LIMITS_TABLE, [
          { name: 'key', kind: 'text', primaryKey: true },
          { name: 'hits', kind: 'number' },
          { name: 'reset_at', kind: 'number' },
        ]),
      );
    },
  },
  {
    // Idempotency-Key: each key's request fingerprint and, once it ran, its answer
    name: '0005_idempotency',
    async up(tx, engine) {
      const d = engine.dialect;
      await tx.run(
        d.createTable(IDEMPOTENCY_TABLE, [
          { name: 'id', kind: 'text', primaryKey: true },
          { name: 'fingerprint', kind: 'text' },
          { name: 'status', kind: 'number' },
          { name: 'body', kind: 'text' },
          { name: 'created', kind: 'number' },
        ]),
      );
      await tx.run(
        d.createIndex({ name: 'idx__ms_idempotency_created', table: IDEMPOTENCY_TABLE, unique: false, columns: [{ name: 'created' }] }),
      );
    },
  },
  {
    // login alerts: where each auth record has signed in from
    name: '0006_auth_origins',
    async up(tx, engine) {
      const d = engine.dialect;
      await tx.run(
        d.createTable(OLD_AUTH_ORIGINS_TABLE, [
          { name: 'id', kind: 'text', primaryKey: true },
          { name: 'collection_ref', kind: 'text' },
          { name: 'record_ref', kind: 'text' },
          { name: 'fingerprint', kind: 'text' },
          { name: 'updated', kind: 'number' },
        ]),
      );
      await tx.run(
        d.createIndex({
          name: 'idx__ms_auth_origins_record',
          table: OLD_AUTH_ORIGINS_TABLE,
          unique: false,
          columns: [{ name: 'collection_ref' }, { name: 'record_ref' }],
        }),
      );
    },
  },
  {
    // failed sign-ins that instances sharing a database count together (PostgreSQL)
    name: '0007_login_failures',
    async up(tx, engine) {
      await tx.run(
        engine.dialect.createTable(LOGIN_FAILURES_TABLE, [
          { name: 'key', kind: 'text', primaryKey: true },
          { name: 'failures', kind: 'number' },
          { name: 'locks', kind: 'number' },
          { name: 'locked_until', kind: 'number' },
          { name: 'touched', kind: 'number' },
        ]),
      );
    },
  },
  {
    // cron jobs: one claim per (job, tick), so instances sharing a database run each tick once
    name: '0008_cron_runs',
    async up(tx, engine) {
      const d = engine.dialect;
      await tx.run(
        d.createTable(CRON_RUNS_TABLE, [
          { name: 'id', kind: 'text', primaryKey: true },
          { name: 'job', kind: 'text' },
          { name: 'tick', kind: 'number' },
          { name: 'instance', kind: 'text' },
          { name: 'alive', kind: 'number' },
          { name: 'finished', kind: 'number' },
        ]),
      );
      await tx.run(
        d.createIndex({
          name: 'idx__ms_cron_runs_job',
          table: CRON_RUNS_TABLE,
          unique: false,
          columns: [{ name: 'job' }, { name: 'finished' }],
        }),
      );
      await tx.run(d.createIndex({ name: 'idx__ms_cron_runs_tick', table: CRON_RUNS_TABLE, unique: false, columns: [{ name: 'tick' }] }));
    },
  },
  {
    // the request log the dashboard shows (GET /api/logs), in the database every instance shares; where one
    // process owns the database (SQLite) it lives in a file of its own (0010)
    name: '0009_request_logs',
    async up(tx, engine) {
      if (engine.shared) await createLogsTable(tx, engine.dialect);
    },
  },
  {
    // SQLite: the request log moved to its own file; the copy an earlier 0009 made in data.db goes
    name: '0010_request_logs_apart',
    async up(tx, engine) {
      if (!engine.shared) await tx.run(engine.dialect.dropTable(LOGS_TABLE));
    },
  },
  {
    // PostgreSQL: tables, columns and indexes named past 63 bytes were made cut at 63 bytes; they take
    // the names the dialect now gives them (a prefix and a hash: see storedName)
    name: '0011_long_names',
    async up(tx, engine) {
      if (!engine.renameShortenedNames) return;
      const rows = await tx.all<{ data: unknown }>(`SELECT data FROM ${COLLECTIONS_TABLE}`);
      const tables = rows.map((row) => {
        const c = (typeof row.data === 'string' ? JSON.parse(row.data) : row.data) as Collection;
        const indexes = c.indexes.map((sql) => parseIndex(sql)).flatMap((p) => (typeof p === 'string' ? [] : [p.name]));
        return { table: c.name, columns: c.fields.map((f) => f.name), indexes };
      });
      await engine.renameShortenedNames(tx, tables);
    },
  },
  {
    // superusers are always verified (PocketBase's rule, kept on every save since); ones made before were not
    name: '0012_superusers_verified',
    async up(tx, engine) {
      const d = engine.dialect;
      await tx.run(`UPDATE ${d.ident(SUPERUSERS)} SET ${d.ident('verified')} = $1`, [d.encode('bool', true)]);
    },
  },
  {
    // PocketBase's system collections of the auth flows: _mfas, _otps, _externalAuths and _authOrigins are
    // collections with its fields, rules and indexes; the rows of the tables that held MFA sessions, OTPs and
    // auth origins move into them (camelCase columns, autodates as text, 15-character ids)
    name: '0013_auth_collections',
    async up(tx, engine, collections) {
      const d = engine.dialect;
      // the new collections' index names are checked against the app's own collections
      await collections.load(tx);
      // the old _otps and _mfas have the new tables' names: their rows are read, then the tables go
      const otps = await tx.all<Row>(`SELECT id, collection_ref, record_ref, password, sent_to, created FROM ${d.ident(OLD_OTPS_TABLE)}`);
      const mfas = await tx.all<Row>(`SELECT id, collection_ref, record_ref, method, created FROM ${d.ident(OLD_MFAS_TABLE)}`);
      await tx.run(d.dropTable(OLD_OTPS_TABLE));
      await tx.run(d.dropTable(OLD_MFAS_TABLE));
      for (const input of authRefCollectionInputs()) await collections.createIn(tx, collections.scaffold(input, true));
      const text = (v: unknown): SqlValue => (v == null ? '' : String(v));
      await insertMany(
        tx,
        d,
        OTPS,
        ['id', 'collectionRef', 'recordRef', 'password', 'sentTo', 'created', 'updated'],
        otps.map((r) => [
          text(r.id),
          text(r.collection_ref),
          text(r.record_ref),
          text(r.password),
          text(r.sent_to),
          msToDate(r.created),
          msToDate(r.created),
        ]),
      );
      await insertMany(
        tx,
        d,
        MFAS,
        ['id', 'collectionRef', 'recordRef', 'method', 'created', 'updated'],
        mfas.map((r) => [text(r.id), text(r.collection_ref), text(r.record_ref), text(r.method), msToDate(r.created), msToDate(r.created)]),
      );
      // auth origins are kept (they decide which sign-in is from a new device), a page at a time: there may be many
      const old = d.ident(OLD_AUTH_ORIGINS_TABLE);
      for (let after = -1; ; ) {
        const rows = await tx.all<Row>(
          `SELECT rowid AS ${d.ident('__rowid')}, collection_ref, record_ref, fingerprint, updated FROM ${old} WHERE rowid > $1 ORDER BY rowid LIMIT 1000`,
          [after],
        );
        if (rows.length === 0) break;
        after = Number(rows[rows.length - 1]?.__rowid);
        await insertMany(
          tx,
          d,
          AUTH_ORIGINS,
          ['id', 'collectionRef', 'recordRef', 'fingerprint', 'created', 'updated'],
          // the old table kept when an origin was last used, not when it was first seen
          rows.map((r) => [
            newRecordId(),
            text(r.collection_ref),
            text(r.record_ref),
            text(r.fingerprint),
            msToDate(r.updated),
            msToDate(r.updated),
          ]),
        );
      }
      await tx.run(d.dropTable(OLD_AUTH_ORIGINS_TABLE));
    },
  },
  {
    // crash-safe Idempotency-Keys (core/idempotency.ts): the instance that holds a claim, and the instances alive
    name: '0014_instances',
    async up(tx, engine) {
      const d = engine.dialect;
      await tx.run(
        d.createTable(INSTANCES_TABLE, [
          { name: 'id', kind: 'text', primaryKey: true },
          { name: 'pid', kind: 'number' },
          { name: 'hostname', kind: 'text' },
          { name: 'started', kind: 'number' },
          { name: 'heartbeat', kind: 'number' },
        ]),
      );
      // '' for claims taken before: no instance has that id, so a claim left by a crash is free at once
      await tx.run(d.addColumn(IDEMPOTENCY_TABLE, { name: 'owner', kind: 'text' }));
    },
  },
  {
    // passkeys (WebAuthn): registered credentials and the challenges handed out, in the shared database
    name: '0015_passkeys',
    async up(tx, engine) {
      for (const sql of passkeyTablesDDL(engine.dialect)) await tx.run(sql);
    },
  },
];

/** Applies every pending system migration; returns the names applied. */
export async function migrate(engine: Engine, collections: CollectionService): Promise<string[]> {
  // several instances may start at once against one database: one migrates, the others wait and find it done
  return engine.withLock ? engine.withLock('mainspring:migrate', () => migrateNow(engine, collections)) : migrateNow(engine, collections);
}

async function migrateNow(engine: Engine, collections: CollectionService): Promise<string[]> {
  const d = engine.dialect;
  // looked up first: even a CREATE TABLE IF NOT EXISTS that finds the table goes through the writer, and on
  // SQLite a write starts the checkpoint thread (some 10 MB) that a server which has not written does without
  const tables = await engine.all<{ name: string }>(d.listTables());
  if (!tables.some((t) => t.name === MIGRATIONS_TABLE)) {
    await engine.run(
      `${d
        .createTable(MIGRATIONS_TABLE, [
          { name: 'file', kind: 'text', primaryKey: true },
          { name: 'applied', kind: 'number' },
        ])
        .replace('CREATE TABLE', 'CREATE TABLE IF NOT EXISTS')}`,
    );
  }
  const done = new Set((await engine.all<{ file: string }>(`SELECT file FROM ${MIGRATIONS_TABLE}`)).map((r) => r.file));
  const applied: string[] = [];
  for (const m of MIGRATIONS) {
    if (done.has(m.name)) continue;
    await engine.transaction(async (tx) => {
      await m.up(tx, engine, collections);
      await tx.run(`INSERT INTO ${MIGRATIONS_TABLE} (file, applied) VALUES ($1, $2)`, [m.name, Date.now()]);
    });
    applied.push(m.name);
  }
  return applied;
}
