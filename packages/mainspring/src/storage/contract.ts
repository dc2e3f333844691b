import { afterAll, beforeAll, describe, expect, type TestContext, test } from 'vitest';
import {
  type ColumnKind,
  type Dialect,
  type Engine,
  type Executor,
  type FilterValueType,
  QueryRejectedError,
  type ReadStatement,
  type SqlValue,
  StatementTimeoutError,
} from './engine.js';

/**
 * What every engine must do to be a Mainspring engine: the promises of the
 * {@link Engine}, {@link Executor} and {@link Dialect} doc comments, observed
 * through those interfaces only. Each engine folder runs it from its
 * `contract.test.ts`; a new engine is one when this passes.
 */

/** A database an engine runs on, made fresh for one run of the contract. */
export interface ContractDatabase {
  /** Opens an engine on this database; the contract opens several at once and closes each. */
  open(options: { readonly statementTimeoutMs: number }): Promise<Engine>;
  /** Removes the database once every engine on it is closed. */
  remove(): Promise<void>;
}

/** The engine a run of the contract tests. */
export interface ContractSubject {
  /** Shown in the suite's name. */
  readonly name: string;
  /** Why the engine cannot be tested here (no server configured): the suite is then skipped with that reason in its name. */
  readonly unavailable?: string;
  /** A fresh, empty database. */
  database(): Promise<ContractDatabase>;
}

/** The statement timeout of the engines the contract opens: long, so that only a test's own `timeoutMs` stops a statement. */
const ENGINE_TIMEOUT_MS = 20_000;
/** The `timeoutMs` the contract's slow reads are given. */
const READ_TIMEOUT_MS = 300;

const KINDS: readonly ColumnKind[] = ['text', 'number', 'bool', 'date', 'json', 'array', 'point'];

/** Each kind's value when empty, as `ColumnKind`'s documentation gives it. */
const EMPTY: Record<ColumnKind, unknown> = {
  text: '',
  number: 0,
  bool: false,
  date: '',
  json: null,
  array: [],
  point: { lon: 0, lat: 0 },
};

/**
 * Rows of a column of every kind (named after its kind): what is stored, and
 * what reads back where that is not the same value.
 */
const ROWS: readonly { readonly id: string; readonly stored: Record<ColumnKind, unknown>; readonly shown?: Record<ColumnKind, unknown> }[] =
  [
    {
      id: 'a-quotes',
      stored: {
        text: `it's "quoted" \\ back; -- not a comment`,
        number: 42,
        bool: true,
        date: '2024-01-02 03:04:05.678Z',
        json: { a: 1, b: [true, null, 'x'], c: { d: 'e' } },
        array: ['a', 'b"c', "d'e"],
        point: { lon: 12.5, lat: -45.25 },
      },
    },
    {
      id: 'b-unicode',
      stored: {
        text: 'Zoë — 日本語 🎉 nul:\u0000:end',
        number: -3.5,
        bool: false,
        date: '1999-12-31 23:59:59.999Z',
        json: [1, 'two', { three: 3, nul: 'a\u0000b' }],
        array: ['ü', '🎉', 'a\u0000b'],
        point: { lon: -180, lat: 90 },
      },
    },
    {
      id: 'c-numbers',
      stored: {
        text: ' spaced ',
        number: 0.30000000000000004,
        bool: true,
        date: '2024-02-29 00:00:00.000Z',
        json: 'a string',
        array: ['x'],
        point: { lon: 0.000001, lat: 1e-7 },
      },
    },
    {
      id: 'd-large',
      stored: {
        text: 'x'.repeat(10_000),
        number: 9007199254740991,
        bool: false,
        date: '',
        json: 1.5,
        array: [],
        point: { lon: 0, lat: 0 },
      },
    },
    {
      // encode() makes empty or invalid input the kind's empty value
      id: 'e-empty-input',
      stored: {
        text: null,
        number: Number.NaN,
        bool: undefined,
        date: undefined,
        json: undefined,
        array: 'not a list',
        point: { lon: 'x' },
      },
      shown: EMPTY,
    },
  ];

/** A statement that runs for minutes unless a timeout stops it (counting to 10^9, `deadline()` first in its WHERE). */
const slowQuery = (d: Dialect) =>
  `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE ${d.deadline()} AND x < 1000000000) SELECT COUNT(*) AS n FROM c`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until `done()` holds, at most `ms`. */
async function until(done: () => boolean, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!done() && Date.now() < deadline) await sleep(20);
}

/** Declares the contract's tests for `subject`. */
export function runEngineContract(subject: ContractSubject): void {
  if (subject.unavailable) {
    describe.skip(`${subject.name} engine contract (skipped: ${subject.unavailable})`, () => {
      test('every promise of the engine interfaces', () => {});
    });
    return;
  }
  describe(`${subject.name} engine contract`, { timeout: 60_000 }, () => {
    let database: ContractDatabase;
    let engine: Engine;
    let d: Dialect;
    const opened: Engine[] = [];
    let seq = 0;
    /** A table name no other test uses. */
    const fresh = (stem: string) => `${stem}_${++seq}`;
    /** Another engine on the same database, closed after the suite. */
    const openAnother = async () => {
      const e = await database.open({ statementTimeoutMs: ENGINE_TIMEOUT_MS });
      opened.push(e);
      return e;
    };

    beforeAll(async () => {
      database = await subject.database();
      engine = await openAnother();
      d = engine.dialect;
    }, 60_000);

    afterAll(async () => {
      for (const e of opened) await e.close();
      await database?.remove();
    }, 60_000);

    /** `INSERT INTO table (columns…) VALUES ($1…)`. */
    const insertSql = (table: string, columns: readonly string[]) =>
      `INSERT INTO ${d.ident(table)} (${columns.map((c) => d.ident(c)).join(', ')}) VALUES (${columns.map((_, i) => d.param(i + 1)).join(', ')})`;

    /** Creates `table`: a text primary key `id`, then `columns` (name → kind) in order. */
    const createTable = (table: string, columns: Readonly<Record<string, ColumnKind>> = {}) =>
      engine.run(
        d.createTable(table, [
          { name: 'id', kind: 'text', primaryKey: true },
          ...Object.entries(columns).map(([name, kind]) => ({ name, kind })),
        ]),
      );
    /** A table `id` + one column per kind, named after it. */
    const kindsTable = (table: string) => createTable(table, Object.fromEntries(KINDS.map((kind) => [kind, kind])));
    /** Inserts row `id` of a kinds table, each value through `encode()`. */
    const insertKinds = (table: string, id: string, values: Record<ColumnKind, unknown>) =>
      engine.run(insertSql(table, ['id', ...KINDS]), [id, ...KINDS.map((k) => d.encode(k, values[k]))]);
    const selectKinds = (table: string) =>
      `SELECT ${['id', ...KINDS].map((c) => d.ident(c)).join(', ')} FROM ${d.ident(table)} ORDER BY id`;
    /** A row of a kinds table as the API shows it. */
    const decodeKinds = (raw: Record<string, unknown>) => ({
      id: raw.id,
      ...Object.fromEntries(KINDS.map((k) => [k, d.decode(k, raw[k])])),
    });
    const decodeKindsArray = (raw: readonly unknown[]) => decodeKinds(Object.fromEntries(['id', ...KINDS].map((c, i) => [c, raw[i]])));

    /** Binds `value` (compared with a value of `hint`) and answers its placeholder, as the filter compiler does. */
    const binder = (params: SqlValue[]) => (value: SqlValue, hint?: FilterValueType) => {
      params.push(value);
      return d.param(params.length, value, hint);
    };
    /** `left` (of `leftType`) = a bound value, made comparable as the filter compiler makes it. */
    const equalsValue = (bind: ReturnType<typeof binder>, left: string, leftType: FilterValueType, value: string | number) => {
      const type = typeof value === 'number' ? 'number' : 'text';
      const right = bind(value, type);
      const [l, r] = d.unify && leftType !== type ? d.unify(left, leftType, right, type) : [left, right];
      return `${l} = ${r}`;
    };
    const ids = (rows: readonly { id?: unknown }[]) => rows.map((r) => r.id);

    for (const where of ['on the engine', 'in a transaction'] as const) {
      describe(`Executor, ${where}`, () => {
        /** Runs `fn` with the engine itself or inside a transaction. */
        const on = <T>(fn: (ex: Executor) => Promise<T>): Promise<T> => (where === 'on the engine' ? fn(engine) : engine.transaction(fn));
        let table: string;

        beforeAll(async () => {
          table = fresh('exec');
          await createTable(table, { title: 'text', n: 'number', flag: 'bool' });
          for (const [id, title, n, flag] of [
            ['a', 'first', 1, true],
            ['b', 'second', 2, false],
            ['c', 'third', 3, true],
          ] as const) {
            await engine.run(insertSql(table, ['id', 'title', 'n', 'flag']), [id, title, n, d.encode('bool', flag)]);
          }
        });

        test('all() answers every row as an object keyed by column name', async () => {
          const rows = await on((ex) =>
            ex.all(`SELECT id, title AS label, n FROM ${d.ident(table)} WHERE n >= ${d.param(1)} ORDER BY n`, [2]),
          );
          expect(rows).toEqual([
            { id: 'b', label: 'second', n: 2 },
            { id: 'c', label: 'third', n: 3 },
          ]);
        });

        test('get() answers the first row, and undefined when there is none', async () => {
          const sql = `SELECT id FROM ${d.ident(table)} WHERE n >= ${d.param(1)} ORDER BY n DESC`;
          expect(await on((ex) => ex.get(sql, [2]))).toEqual({ id: 'c' });
          expect(await on((ex) => ex.get(sql, [100]))).toBeUndefined();
        });

        test('values() answers each row as its values in select-list order', async () => {
          const rows = await on((ex) => ex.values(`SELECT n, title, id FROM ${d.ident(table)} ORDER BY id DESC`));
          expect(rows).toEqual([
            [3, 'third', 'c'],
            [2, 'second', 'b'],
            [1, 'first', 'a'],
          ]);
        });

        test('run() answers how many rows the statement changed', async () => {
          const t = fresh('run');
          await createTable(t, { n: 'number' });
          const counts = await on(async (ex) => [
            await ex.run(`INSERT INTO ${d.ident(t)} (id, n) VALUES ('x', 1), ('y', 1), ('z', 2)`),
            await ex.run(`UPDATE ${d.ident(t)} SET n = n + 10 WHERE n = ${d.param(1)}`, [1]),
            await ex.run(`DELETE FROM ${d.ident(t)} WHERE id = ${d.param(1)}`, ['nobody']),
            await ex.run(`DELETE FROM ${d.ident(t)}`),
          ]);
          expect(counts).toEqual([3, 2, 0, 3]);
        });

        test('a parameter may be used twice, out of order, or not at all', async () => {
          const rows = await on((ex) =>
            ex.all(
              `SELECT id FROM ${d.ident(table)} WHERE (n = ${d.param(2)} OR id = ${d.param(1)} OR title = ${d.param(1)}) AND n <> ${d.param(2)} + 100 ORDER BY id`,
              ['a', 3, 'unused'],
            ),
          );
          expect(rows).toEqual([{ id: 'a' }, { id: 'c' }]);
        });

        test('a boolean parameter matches a bool column', async () => {
          const rows = await on((ex) => ex.all(`SELECT id FROM ${d.ident(table)} WHERE flag = ${d.param(1)} ORDER BY id`, [true]));
          expect(rows).toEqual([{ id: 'a' }, { id: 'c' }]);
        });

        test('a statement that fails rejects, and the next one is served', async () => {
          await expect(
            on((ex) => ex.get(`SELECT no_such_column FROM ${d.ident(table)} WHERE id = ${d.param(1)}`, ['a'])),
          ).rejects.toThrow();
          await expect(on((ex) => ex.run(`INSERT INTO ${d.ident(table)} (id) VALUES ('a')`))).rejects.toThrow();
          expect(await on((ex) => ex.get(`SELECT id FROM ${d.ident(table)} WHERE id = ${d.param(1)}`, ['b']))).toEqual({ id: 'b' });
        });

        test('describe() names the columns of a read-only query and where each is read from, without reading rows', async () => {
          const columns = await on((ex) =>
            ex.describe(
              `SELECT id, title AS label, n, flag, s.x AS traced, n + 1 AS computed FROM ${d.ident(table)} JOIN (SELECT id AS sid, title AS x FROM ${d.ident(table)}) s ON s.sid = id`,
            ),
          );
          expect(columns.map((c) => c.name)).toEqual(['id', 'label', 'n', 'flag', 'traced', 'computed']);
          const [id, label, n, flag, traced, computed] = columns;
          expect(label?.origin).toEqual({ table, column: 'title' });
          expect(traced?.origin).toEqual({ table, column: 'title' });
          expect(computed?.origin).toBeNull();
          expect([id?.type, label?.type, n?.type, flag?.type]).toEqual(['text', 'text', 'number', 'bool']);
          // an expression's type is told where the engine tells it
          expect([null, 'number']).toContain(computed?.type);
          // a query that would run for minutes: its rows are not read
          expect((await on((ex) => ex.describe(slowQuery(d)))).map((c) => c.name)).toEqual(['n']);
        });

        test('describe() refuses a write, two statements or bad SQL with QueryRejectedError, and changes nothing', async () => {
          const refused = [
            `INSERT INTO ${d.ident(table)} (id) VALUES ('new')`,
            `UPDATE ${d.ident(table)} SET title = 'changed'`,
            `DELETE FROM ${d.ident(table)}`,
            `DROP TABLE ${d.ident(table)}`,
            `WITH gone AS (DELETE FROM ${d.ident(table)} RETURNING id) SELECT id FROM gone`,
            `SELECT 1 AS one; DELETE FROM ${d.ident(table)}`,
            'SELECT 1 AS one; SELECT 2 AS two',
            'SELEKT nothing',
          ];
          for (const sql of refused) {
            // in a transaction, each refusal must leave the transaction usable: the read after it answers
            const after = await on(async (ex) => {
              await expect(ex.describe(sql), sql).rejects.toBeInstanceOf(QueryRejectedError);
              return ex.all(`SELECT id, title FROM ${d.ident(table)} ORDER BY id`);
            });
            expect(after).toEqual([
              { id: 'a', title: 'first' },
              { id: 'b', title: 'second' },
              { id: 'c', title: 'third' },
            ]);
          }
        });
      });
    }

    describe('values', () => {
      let table: string;
      beforeAll(async () => {
        table = fresh('kinds');
        await kindsTable(table);
        for (const row of ROWS) await insertKinds(table, row.id, row.stored);
      });
      const expected = () => ROWS.map((r) => ({ id: r.id, ...(r.shown ?? r.stored) }));

      test('every column kind reads back what was stored: text with unicode, quotes and NUL, numbers, booleans, dates, JSON, lists and points', async () => {
        expect((await engine.all(selectKinds(table))).map(decodeKinds)).toEqual(expected());
      });

      test('all(), get(), values(), read() and a transaction give rows that decode alike', async () => {
        const sql = selectKinds(table);
        const [objects, arrays] = await engine.read([{ sql }, { sql, arrays: true }]);
        const [lightObjects] = await engine.read([{ sql }], { light: true });
        const inTx = await engine.transaction(async (tx) => ({ all: await tx.all(sql), values: await tx.values(sql) }));
        expect((objects as Record<string, unknown>[]).map(decodeKinds)).toEqual(expected());
        expect((arrays as unknown[][]).map(decodeKindsArray)).toEqual(expected());
        expect((lightObjects as Record<string, unknown>[]).map(decodeKinds)).toEqual(expected());
        expect((await engine.values(sql)).map(decodeKindsArray)).toEqual(expected());
        expect(inTx.all.map(decodeKinds)).toEqual(expected());
        expect(inTx.values.map(decodeKindsArray)).toEqual(expected());
        const one = await engine.get(`${sql.replace(' ORDER BY id', '')} WHERE id = ${d.param(1)}`, ['b-unicode']);
        expect(one && decodeKinds(one)).toEqual(expected()[1]);
      });

      test('a row inserted with only its id reads back each kind’s empty value', async () => {
        const t = fresh('defaults');
        await kindsTable(t);
        await engine.run(`INSERT INTO ${d.ident(t)} (id) VALUES (${d.param(1)})`, ['only-id']);
        expect((await engine.all(selectKinds(t))).map(decodeKinds)).toEqual([{ id: 'only-id', ...EMPTY }]);
      });

      test('a null parameter stores NULL, which a JSON column reads back as null', async () => {
        const t = fresh('nulls');
        await kindsTable(t);
        await engine.run(insertSql(t, ['id', 'json']), ['n', null]);
        expect(await engine.get(`SELECT id FROM ${d.ident(t)} WHERE ${d.ident('json')} IS NULL`)).toEqual({ id: 'n' });
        expect((await engine.all(selectKinds(t))).map(decodeKinds)).toEqual([{ id: 'n', ...EMPTY }]);
      });
    });

    describe('identifiers', () => {
      test('ident() quotes names with quotes, spaces, reserved words, unicode and SQL in them, as tables and columns', async () => {
        const table = `${fresh('we"ird')} table; DROP TABLE x; --`;
        const columns = ['select', 'order by', 'a "quoted" name', "it's", 'ünï cödé 🎉', 'back\\slash', 'semi;colon--', 'group'];
        await createTable(table, Object.fromEntries(columns.map((c) => [c, 'text'])));
        await engine.run(insertSql(table, ['id', ...columns]), ['r1', ...columns.map((c) => `value of ${c}`)]);
        const row = await engine.get(
          `SELECT ${columns.map((c) => d.ident(c)).join(', ')} FROM ${d.ident(table)} WHERE ${d.ident('id')} = ${d.param(1)}`,
          ['r1'],
        );
        expect(row).toEqual(Object.fromEntries(columns.map((c) => [d.storedName(c), `value of ${c}`])));
        expect((await engine.all<{ name: string }>(d.listTables())).map((r) => r.name)).toContain(d.storedName(table));
      });

      test('storedName() is the name itself for a short name, and the same on every call', () => {
        expect(d.storedName('title')).toBe('title');
        const long = `${'n'.repeat(99)}1`;
        expect(d.storedName(long)).toBe(d.storedName(long));
      });

      test('long names are kept as storedName() gives them, and two that begin alike stay two columns and two tables', async () => {
        const stem = fresh('t');
        const tableA = `${stem}_${'long_table_'.repeat(8)}a`;
        const tableB = `${stem}_${'long_table_'.repeat(8)}b`;
        const columns = [`${'c'.repeat(99)}1`, `${'c'.repeat(99)}2`, `${'é'.repeat(49)}1`, `${'é'.repeat(49)}2`];
        for (const table of [tableA, tableB]) {
          await createTable(table, Object.fromEntries(columns.map((c) => [c, 'text'])));
          await engine.run(insertSql(table, ['id', ...columns]), [table.slice(-1), ...columns.map((_, i) => `${table.slice(-1)}${i}`)]);
        }
        expect(new Set(columns.map((c) => d.storedName(c))).size).toBe(4);
        expect(d.storedName(tableA)).not.toBe(d.storedName(tableB));
        for (const table of [tableA, tableB]) {
          const row = await engine.get(`SELECT ${['id', ...columns].map((c) => d.ident(c)).join(', ')} FROM ${d.ident(table)}`);
          const id = table.slice(-1);
          expect(row).toEqual({ id, ...Object.fromEntries(columns.map((c, i) => [d.storedName(c), `${id}${i}`])) });
        }
        const tables = (await engine.all<{ name: string }>(d.listTables())).map((r) => r.name);
        expect(tables).toEqual(expect.arrayContaining([d.storedName(tableA), d.storedName(tableB)]));
      });
    });

    describe('transactions', () => {
      let table: string;
      beforeAll(async () => {
        table = fresh('tx');
        await createTable(table, { n: 'number' });
        await engine.run(`INSERT INTO ${d.ident(table)} (id, n) VALUES ('counter', 0), ('rmw', 0)`);
      });
      const insert = (ex: Executor, id: string) => ex.run(`INSERT INTO ${d.ident(table)} (id, n) VALUES (${d.param(1)}, 1)`, [id]);
      const find = (id: string) => engine.get(`SELECT id FROM ${d.ident(table)} WHERE id = ${d.param(1)}`, [id]);

      test('a transaction whose body resolves is committed, and answers what the body returned', async () => {
        const answer = await engine.transaction(async (tx) => {
          await insert(tx, 'committed-1');
          await insert(tx, 'committed-2');
          return { done: true };
        });
        expect(answer).toEqual({ done: true });
        expect(await find('committed-1')).toEqual({ id: 'committed-1' });
        expect(await find('committed-2')).toEqual({ id: 'committed-2' });
      });

      test('a transaction whose body throws is rolled back, and rejects with that error', async () => {
        const refusal = new Error('the body refused');
        await expect(
          engine.transaction(async (tx) => {
            await insert(tx, 'rolled-back');
            throw refusal;
          }),
        ).rejects.toBe(refusal);
        expect(await find('rolled-back')).toBeUndefined();
        expect(await engine.read([{ sql: `SELECT id FROM ${d.ident(table)} WHERE id = 'rolled-back'` }])).toEqual([[]]);
      });

      test('a transaction whose statement fails is rolled back whole, and its error is still recognisable', async () => {
        const failed = engine.transaction(async (tx) => {
          await insert(tx, 'before-duplicate');
          await insert(tx, 'counter');
        });
        const err = await failed.then(
          () => null,
          (e: unknown) => e,
        );
        expect(d.uniqueViolation(err)).toEqual({ columns: ['id'] });
        expect(await find('before-duplicate')).toBeUndefined();
      });

      test('reads inside a transaction see its writes; reads outside do not until it commits', async () => {
        const seen = await engine.transaction(async (tx) => {
          await insert(tx, 'pending');
          return { inside: await tx.get(`SELECT id FROM ${d.ident(table)} WHERE id = 'pending'`), outside: await find('pending') };
        });
        expect(seen).toEqual({ inside: { id: 'pending' }, outside: undefined });
        expect(await find('pending')).toEqual({ id: 'pending' });
      });

      test('afterCommit() in a transaction runs once, after the commit (a read it starts sees the write), before transaction() resolves', async () => {
        let calls = 0;
        let bodyEnded = false;
        let read: Promise<unknown> | undefined;
        await engine.transaction(async (tx) => {
          await insert(tx, 'after-commit');
          tx.afterCommit(() => {
            calls++;
            expect(bodyEnded).toBe(true);
            read = find('after-commit');
          });
          expect(calls).toBe(0);
          bodyEnded = true;
        });
        expect(calls).toBe(1);
        expect(await read).toEqual({ id: 'after-commit' });
      });

      test('afterCommit() never runs for a transaction that rolled back', async () => {
        let calls = 0;
        await expect(
          engine.transaction(async (tx) => {
            await insert(tx, 'never-committed');
            tx.afterCommit(() => calls++);
            throw new Error('rolled back');
          }),
        ).rejects.toThrow('rolled back');
        await sleep(50);
        expect(calls).toBe(0);
      });

      test('afterCommit() outside a transaction runs at once', () => {
        let calls = 0;
        engine.afterCommit(() => calls++);
        expect(calls).toBe(1);
      });

      test('20 concurrent transactions that increment one row in SQL lose no update', async () => {
        await Promise.all(
          Array.from({ length: 20 }, () =>
            engine.transaction((tx) => tx.run(`UPDATE ${d.ident(table)} SET n = n + 1 WHERE id = 'counter'`)),
          ),
        );
        expect(await engine.get(`SELECT n FROM ${d.ident(table)} WHERE id = 'counter'`)).toEqual({ n: 20 });
      });

      test('20 concurrent transactions that read a row and write it back plus one lose no update', async () => {
        await Promise.all(
          Array.from({ length: 20 }, () =>
            engine.transaction(async (tx) => {
              const row = await tx.get<{ n: number }>(`SELECT n FROM ${d.ident(table)} WHERE id = 'rmw'`);
              await tx.run(`UPDATE ${d.ident(table)} SET n = ${d.param(1)} WHERE id = 'rmw'`, [Number(row?.n) + 1]);
            }),
          ),
        );
        expect(await engine.get(`SELECT n FROM ${d.ident(table)} WHERE id = 'rmw'`)).toEqual({ n: 20 });
      });
    });

    describe('read()', () => {
      let table: string;
      beforeAll(async () => {
        table = fresh('reads');
        await createTable(table, { n: 'number' });
        await engine.run(`INSERT INTO ${d.ident(table)} (id, n) VALUES ('a', 1), ('b', 2), ('c', 3)`);
      });
      const statements = () => [
        { sql: `SELECT id FROM ${d.ident(table)} ORDER BY id` },
        { sql: `SELECT COUNT(*) AS total FROM ${d.ident(table)} WHERE n > ${d.param(1)}`, params: [1] },
        { sql: `SELECT n, id FROM ${d.ident(table)} WHERE id <> ${d.param(1)} ORDER BY n DESC`, params: ['b'], arrays: true },
      ];
      const answers = [
        [{ id: 'a' }, { id: 'b' }, { id: 'c' }],
        [{ total: 2 }],
        [
          [3, 'c'],
          [1, 'a'],
        ],
      ];

      test('read() answers several statements in order, each as objects or as arrays', async () => {
        expect(await engine.read(statements())).toEqual(answers);
      });

      test('a light read answers as a plain one', async () => {
        expect(await engine.read(statements(), { light: true })).toEqual(answers);
      });

      test('read() sees every write committed before it was called', async () => {
        const t = fresh('fresh_reads');
        await createTable(t);
        for (let i = 0; i < 5; i++) {
          await engine.run(`INSERT INTO ${d.ident(t)} (id) VALUES (${d.param(1)})`, [`r${i}`]);
          await engine.transaction((tx) => tx.run(`INSERT INTO ${d.ident(t)} (id) VALUES (${d.param(1)})`, [`t${i}`]));
          const sql = `SELECT COUNT(*) AS n FROM ${d.ident(t)}`;
          expect(await engine.read([{ sql }])).toEqual([[{ n: 2 * (i + 1) }]]);
          expect(await engine.read([{ sql }], { light: true })).toEqual([[{ n: 2 * (i + 1) }]]);
        }
      });

      test('a statement past timeoutMs fails with StatementTimeoutError, and the engine goes on serving', async () => {
        const stopped = engine.stats().reads.stopped;
        await expect(engine.read([{ sql: slowQuery(d) }], { timeoutMs: READ_TIMEOUT_MS })).rejects.toBeInstanceOf(StatementTimeoutError);
        expect(await engine.read(statements())).toEqual(answers);
        expect(await engine.get(`SELECT id FROM ${d.ident(table)} WHERE n = ${d.param(1)}`, [2])).toEqual({ id: 'b' });
        await engine.run(`UPDATE ${d.ident(table)} SET n = n WHERE id = 'a'`);
        expect(engine.stats().reads.stopped).toBe(stopped + 1);
      });

      test('a light read is stopped at timeoutMs too, not at the engine’s own timeout', async () => {
        const started = Date.now();
        await expect(engine.read([{ sql: slowQuery(d) }], { timeoutMs: READ_TIMEOUT_MS, light: true })).rejects.toBeInstanceOf(
          StatementTimeoutError,
        );
        // far from READ_TIMEOUT_MS (the machine may be loaded), but well before the engine's own timeout
        expect(Date.now() - started).toBeLessThan(ENGINE_TIMEOUT_MS / 2);
        expect(await engine.read(statements(), { light: true })).toEqual(answers);
      });

      test('stats() says what runs and waits: nothing once every call has settled', async () => {
        await Promise.all([engine.read(statements()), engine.run(`UPDATE ${d.ident(table)} SET n = n WHERE id = 'b'`)]);
        const s = engine.stats();
        expect(s.writesWaiting).toBe(0);
        expect(s.reads.running).toBe(0);
        expect(s.pool.waiting).toBe(0);
        expect(s.pool.idle).toBeLessThanOrEqual(s.pool.size);
        expect(s.reads.stopped).toBeGreaterThanOrEqual(1);
      });

      test('a read whose statement fails rejects, and the engine goes on serving', async () => {
        await expect(engine.read([...statements(), { sql: 'SELECT no_such_column FROM nowhere' }])).rejects.toThrow();
        expect(await engine.read(statements())).toEqual(answers);
      });

      test('a statement with `when` runs only if the earlier one answered one of its row counts', async () => {
        const [page, count] = statements();
        for (const light of [false, true]) {
          const ran = await engine.read([page, { ...count, when: { statement: 0, rowCounts: [3] } }] as ReadStatement[], { light });
          expect(ran).toEqual([answers[0], answers[1]]);
          const skipped = await engine.read([page, { ...count, when: { statement: 0, rowCounts: [2, 0] } }] as ReadStatement[], { light });
          expect(skipped).toEqual([answers[0], []]);
          // several statements: their rows together, an unrun one answering none
          const both = { statement: [0, 1], rowCounts: [3] };
          const sum = await engine.read(
            [page, { ...page, when: { statement: 0, rowCounts: [0] } }, { ...count, when: both }] as ReadStatement[],
            {
              light,
            },
          );
          expect(sum).toEqual([answers[0], [], answers[1]]);
          const none = await engine.read([page, page, { ...count, when: both }] as ReadStatement[], { light });
          expect(none).toEqual([answers[0], answers[0], []]);
        }
      });

      test('readVersion(), where there is one, stays while nothing commits and moves with every commit', async () => {
        if (!engine.readVersion) return; // the engine cannot tell at once (PostgreSQL behind several instances)
        const t = fresh('read_versions');
        await createTable(t);
        const before = engine.readVersion();
        await engine.read(statements());
        expect(engine.readVersion()).toBe(before);
        await engine.run(`INSERT INTO ${d.ident(t)} (id) VALUES ('v1')`);
        const afterRun = engine.readVersion();
        expect(afterRun).not.toBe(before);
        await engine.transaction((tx) => tx.run(`INSERT INTO ${d.ident(t)} (id) VALUES ('v2')`));
        expect(engine.readVersion()).not.toBe(afterRun);
      });
    });

    describe('schema through the dialect', () => {
      const names = async () => (await engine.all<{ name: string }>(d.listTables())).map((r) => r.name);
      const indexes = async (table: string) => {
        const q = d.listIndexes(table);
        return (await engine.all<{ name: string }>(q.sql, q.params)).map((r) => r.name).sort();
      };
      /** The error a statement rejects with. */
      const failure = (p: Promise<unknown>) =>
        p.then(
          () => {
            throw new Error('the statement was expected to fail');
          },
          (e: unknown) => e,
        );
      /** The violation names the index's columns (as stored) or the index itself, as `uniqueViolation` may. */
      const namesIndex = (err: unknown, index: string, columns: readonly string[]) => {
        const v = d.uniqueViolation(err);
        expect(v).not.toBeNull();
        if (v?.index !== undefined) expect(v.index).toBe(d.storedName(index));
        else expect(v?.columns).toEqual(columns.map((c) => d.storedName(c)));
      };
      const peopleTable = async () => {
        const t = fresh('people');
        await createTable(t, { email: 'text', name: 'text' });
        return t;
      };
      const person = (t: string, id: string, email: string, name = '') =>
        engine.run(insertSql(t, ['id', 'email', 'name']), [id, email, name]);

      test('createTable() makes a table with a column of every kind, which listTables() lists', async () => {
        const t = fresh('every_kind');
        await kindsTable(t);
        expect(await names()).toContain(t);
        const columns = await engine.describe(selectKinds(t));
        expect(columns.map((c) => c.name)).toEqual(['id', ...KINDS]);
      });

      test('addColumn() of each kind gives the rows already there that kind’s empty value', async () => {
        const t = fresh('added');
        await createTable(t);
        await engine.run(`INSERT INTO ${d.ident(t)} (id) VALUES ('old')`);
        for (const kind of KINDS) await engine.run(d.addColumn(t, { name: kind, kind }));
        expect((await engine.all(selectKinds(t))).map(decodeKinds)).toEqual([{ id: 'old', ...EMPTY }]);
      });

      test('dropColumn() removes the column and keeps the others’ values', async () => {
        const t = fresh('dropped');
        await kindsTable(t);
        await insertKinds(t, 'r', ROWS[0]?.stored as Record<ColumnKind, unknown>);
        await engine.run(d.dropColumn(t, 'json'));
        await expect(engine.get(`SELECT ${d.ident('json')} FROM ${d.ident(t)}`)).rejects.toThrow();
        expect(await engine.get(`SELECT ${d.ident('text')}, ${d.ident('number')} FROM ${d.ident(t)}`)).toEqual({
          text: ROWS[0]?.stored.text,
          number: ROWS[0]?.stored.number,
        });
      });

      test('renameColumn() and renameTable() keep the values under the new names', async () => {
        const from = fresh('before');
        const to = fresh('after');
        await createTable(from, { 'old name': 'text' });
        await engine.run(insertSql(from, ['id', 'old name']), ['r', 'kept']);
        await engine.run(d.renameColumn(from, 'old name', 'new name'));
        await engine.run(d.renameTable(from, to));
        expect(await engine.get(`SELECT ${d.ident('new name')} FROM ${d.ident(to)}`)).toEqual({ 'new name': 'kept' });
        await expect(engine.get(`SELECT ${d.ident('old name')} FROM ${d.ident(to)}`)).rejects.toThrow();
        const listed = await names();
        expect(listed).toContain(to);
        expect(listed).not.toContain(from);
      });

      test('dropTable() removes the table from listTables()', async () => {
        const t = fresh('doomed');
        await createTable(t);
        await engine.run(d.dropTable(t));
        expect(await names()).not.toContain(t);
        await expect(engine.get(`SELECT id FROM ${d.ident(t)}`)).rejects.toThrow();
      });

      test('a unique index refuses a duplicate, and uniqueViolation() names its columns or the index', async () => {
        const t = await peopleTable();
        const single = fresh('idx_email');
        const pair = fresh('idx_email_name');
        await engine.run(d.createIndex({ name: single, table: t, unique: true, columns: [{ name: 'email' }] }));
        await person(t, 'p1', 'ann@example.com', 'Ann');
        namesIndex(await failure(person(t, 'p2', 'ann@example.com', 'Other')), single, ['email']);
        await engine.run(d.dropIndex(single));
        await engine.run(d.createIndex({ name: pair, table: t, unique: true, columns: [{ name: 'email' }, { name: 'name', desc: true }] }));
        await person(t, 'p2', 'ann@example.com', 'Other');
        namesIndex(await failure(person(t, 'p3', 'ann@example.com', 'Ann')), pair, ['email', 'name']);
        // through a transaction, the error is the same
        namesIndex(
          await failure(engine.transaction((tx) => tx.run(insertSql(t, ['id', 'email', 'name']), ['p3', 'ann@example.com', 'Ann']))),
          pair,
          ['email', 'name'],
        );
        expect(await engine.all(`SELECT id FROM ${d.ident(t)} ORDER BY id`)).toEqual([{ id: 'p1' }, { id: 'p2' }]);
      });

      test('a unique index over long names is reported by their stored names', async () => {
        const t = fresh('long_unique');
        const column = `${'u'.repeat(99)}1`;
        const index = `${t}_${'i'.repeat(80)}`;
        await createTable(t, { [column]: 'text' });
        await engine.run(d.createIndex({ name: index, table: t, unique: true, columns: [{ name: column }] }));
        await engine.run(insertSql(t, ['id', column]), ['a', 'same']);
        namesIndex(await failure(engine.run(insertSql(t, ['id', column]), ['b', 'same'])), index, [column]);
        expect(await indexes(t)).toEqual([d.storedName(index)]);
      });

      test('a duplicate primary key is a unique violation of id', async () => {
        const t = await peopleTable();
        await person(t, 'same', 'a@example.com');
        expect(d.uniqueViolation(await failure(person(t, 'same', 'b@example.com')))).toEqual({ columns: ['id'] });
      });

      test('a nocase unique index refuses a duplicate that differs only in case', async () => {
        const t = await peopleTable();
        const index = fresh('idx_nocase');
        await engine.run(d.createIndex({ name: index, table: t, unique: true, columns: [{ name: 'email', nocase: true }] }));
        await person(t, 'p1', 'Ann@Example.com');
        namesIndex(await failure(person(t, 'p2', 'ann@EXAMPLE.COM')), index, ['email']);
      });

      test('a unique index with whereNotEmpty lets any number of rows be empty', async () => {
        const t = await peopleTable();
        const index = fresh('idx_not_empty');
        await engine.run(d.createIndex({ name: index, table: t, unique: true, columns: [{ name: 'email' }], whereNotEmpty: 'email' }));
        await person(t, 'p1', '');
        await person(t, 'p2', '');
        await person(t, 'p3', 'x@example.com');
        namesIndex(await failure(person(t, 'p4', 'x@example.com')), index, ['email']);
      });

      test('uniqueViolation() answers null for any other error, and for what is no error', async () => {
        const t = await peopleTable();
        const notNull = await failure(engine.run(insertSql(t, ['id', 'email']), ['p1', null]));
        const badSql = await failure(engine.run('SELEKT 1'));
        const missing = await failure(engine.get(`SELECT id FROM ${d.ident(fresh('missing'))}`));
        for (const err of [notNull, badSql, missing, new Error('UNIQUE constraint failed: x.y'), null, undefined, 'a string']) {
          expect(d.uniqueViolation(err)).toBeNull();
        }
      });

      test('listIndexes() names the indexes created on a table, not its primary key’s; dropIndex() removes one', async () => {
        const t = await peopleTable();
        const other = await peopleTable();
        const [byEmail, byName, elsewhere] = [fresh('idx_by_email'), fresh('idx_by_name'), fresh('idx_elsewhere')];
        expect(await indexes(t)).toEqual([]);
        await engine.run(d.createIndex({ name: byEmail, table: t, unique: true, columns: [{ name: 'email' }] }));
        await engine.run(d.createIndex({ name: byName, table: t, unique: false, columns: [{ name: 'name', desc: true, nocase: true }] }));
        await engine.run(d.createIndex({ name: elsewhere, table: other, unique: false, columns: [{ name: 'name' }] }));
        expect(await indexes(t)).toEqual([byEmail, byName].sort());
        await engine.run(d.dropIndex(byEmail));
        expect(await indexes(t)).toEqual([byName]);
        expect(await indexes(other)).toEqual([elsewhere]);
      });

      test('createView() casts each column to its kind, so it reads as a table’s column would; dropView() removes it', async () => {
        const base = fresh('view_base');
        const view = fresh('view');
        await kindsTable(base);
        await insertKinds(base, 'r', { ...EMPTY, text: 'hello', number: 2.5, bool: true, date: '2024-05-06 07:08:09.010Z' });
        const c = (name: string) => d.ident(name);
        const query = `SELECT id, ${c('number')} + 1 AS next, ${c('number')} AS num_text, ${c('text')} AS greeting_json, ${c('number')} * 2 AS doubled_json, ${c('date')} AS at, ${c('bool')} AS flag, ${c('text')} AS plain FROM ${c(base)}`;
        const casts: [string, ColumnKind | null, ColumnKind, unknown][] = [
          ['id', null, 'text', 'r'],
          ['next', 'number', 'number', 3.5],
          ['num_text', 'text', 'text', '2.5'],
          ['greeting_json', 'json', 'json', 'hello'],
          ['doubled_json', 'json', 'json', 5],
          ['at', 'date', 'date', '2024-05-06 07:08:09.010Z'],
          ['flag', 'bool', 'bool', true],
          ['plain', null, 'text', 'hello'],
        ];
        await engine.run(
          d.createView(
            view,
            query,
            casts.map(([name, cast]) => ({ name, cast })),
          ),
        );
        const row = await engine.get(`SELECT * FROM ${c(view)}`);
        expect(row && Object.fromEntries(casts.map(([name, , kind]) => [name, d.decode(kind, row[name])]))).toEqual(
          Object.fromEntries(casts.map(([name, , , value]) => [name, value])),
        );
        await engine.run(d.dropView(view));
        await expect(engine.get(`SELECT * FROM ${c(view)}`)).rejects.toThrow();
      });

      test('convertColumn() turns one value into a list of it, and a list of one back into the value', async () => {
        const t = fresh('converted');
        await createTable(t, { tag: 'text' });
        await engine.run(`INSERT INTO ${d.ident(t)} (id, tag) VALUES ('a', 'x'), ('b', '')`);
        const read = async (kind: ColumnKind) =>
          (await engine.all<{ id: string; tag: unknown }>(`SELECT id, tag FROM ${d.ident(t)} ORDER BY id`)).map((r) => [
            r.id,
            d.decode(kind, r.tag),
          ]);
        await engine.transaction(async (tx) => {
          for (const sql of d.convertColumn(t, 'tag', 'array')) await tx.run(sql);
        });
        expect(await read('array')).toEqual([
          ['a', ['x']],
          ['b', []],
        ]);
        await engine.run(`INSERT INTO ${d.ident(t)} (id, tag) VALUES ('c', ${d.param(1)})`, [d.encode('array', ['y'])]);
        await engine.transaction(async (tx) => {
          for (const sql of d.convertColumn(t, 'tag', 'text')) await tx.run(sql);
        });
        expect(await read('text')).toEqual([
          ['a', 'x'],
          ['b', ''],
          ['c', 'y'],
        ]);
      });

      test('rowid follows insertion order, and syncRowid() moves the next one past rows inserted with explicit rowids', async () => {
        const t = fresh('rowids');
        await createTable(t);
        await engine.run(`INSERT INTO ${d.ident(t)} (rowid, id) VALUES (100, 'explicit-1'), (101, 'explicit-2')`);
        const sync = d.syncRowid(t);
        if (sync) await engine.run(sync.sql, sync.params);
        for (const id of ['z-first', 'a-second', 'm-third'])
          await engine.run(`INSERT INTO ${d.ident(t)} (id) VALUES (${d.param(1)})`, [id]);
        const rows = await engine.all<{ id: string; rowid: number }>(`SELECT id, rowid FROM ${d.ident(t)} ORDER BY rowid`);
        expect(rows.map((r) => r.id)).toEqual(['explicit-1', 'explicit-2', 'z-first', 'a-second', 'm-third']);
        expect(rows[2]?.rowid).toBeGreaterThan(101);
      });
    });

    describe('filter SQL', () => {
      let docs: string;
      beforeAll(async () => {
        docs = fresh('docs');
        await createTable(docs, { tags: 'array', meta: 'json' });
        const rows: [string, string[], unknown][] = [
          ['a', ['red', 'blue'], { n: 1, list: [10, 20], nested: { k: 'v' }, nothing: null }],
          ['b', [], null],
          ['c', ['blue'], { n: 2, list: [] }],
          ['d', ['green'], 'x'],
        ];
        for (const [id, tags, meta] of rows)
          await engine.run(insertSql(docs, ['id', 'tags', 'meta']), [id, d.encode('array', tags), d.encode('json', meta)]);
      });
      const col = (name: string) => `t.${d.ident(name)}`;
      /** The ids of `docs` rows (as `t`) where the condition holds. */
      const where = async (condition: (bind: ReturnType<typeof binder>) => string) => {
        const params: SqlValue[] = [];
        const sql = `SELECT t.id AS id FROM ${d.ident(docs)} t WHERE ${condition(binder(params))} ORDER BY t.id`;
        return ids(await engine.all(sql, params));
      };

      test('jsonEach() and joinJsonEach() yield each element of a list, the left join keeping rows without any', async () => {
        const join = async (left: boolean) =>
          (
            await engine.all<{ id: string; value: string | null }>(
              `SELECT t.id AS id, e.value AS value FROM ${d.ident(docs)} t ${d.joinJsonEach(col('tags'), 'e', left)} ORDER BY t.id, e.value`,
            )
          ).map((r) => [r.id, r.value]);
        expect(await join(false)).toEqual([
          ['a', 'blue'],
          ['a', 'red'],
          ['c', 'blue'],
          ['d', 'green'],
        ]);
        expect(await join(true)).toEqual([
          ['a', 'blue'],
          ['a', 'red'],
          ['b', null],
          ['c', 'blue'],
          ['d', 'green'],
        ]);
        const params: SqlValue[] = [];
        const list = binder(params)(JSON.stringify(['q', 'p', 'q']));
        const alone = await engine.all<{ value: string }>(`SELECT e.value AS value FROM ${d.jsonEach(list, 'e')}`, params);
        expect(alone.map((r) => r.value).sort()).toEqual(['p', 'q', 'q']);
      });

      test('jsonArrayContains() finds a text value in a list, and jsonArrayLength() counts a list', async () => {
        expect(await where((bind) => d.jsonArrayContains(col('tags'), bind('blue', 'text')))).toEqual(['a', 'c']);
        expect(await where((bind) => d.jsonArrayContains(col('tags'), bind('purple', 'text')))).toEqual([]);
        const lengths = await engine.all<{ id: string; n: number }>(
          `SELECT t.id AS id, ${d.jsonArrayLength(col('tags'))} AS n FROM ${d.ident(docs)} t ORDER BY t.id`,
        );
        expect(lengths.map((r) => [r.id, r.n])).toEqual([
          ['a', 2],
          ['b', 0],
          ['c', 1],
          ['d', 1],
        ]);
      });

      test('jsonExtract() reads a value by keys and indexes; JSON null, a missing key and a null column are NULL', async () => {
        const extract = (path: (string | number)[], bind: ReturnType<typeof binder>) => d.jsonExtract(col('meta'), path, (v) => bind(v));
        expect(await where((bind) => equalsValue(bind, extract(['n'], bind), 'json', 1))).toEqual(['a']);
        expect(await where((bind) => equalsValue(bind, extract(['n'], bind), 'json', 2))).toEqual(['c']);
        expect(await where((bind) => equalsValue(bind, extract(['list', 1], bind), 'json', 20))).toEqual(['a']);
        expect(await where((bind) => equalsValue(bind, extract(['nested', 'k'], bind), 'json', 'v'))).toEqual(['a']);
        // a JSON column's own value compares as a value: the stored "x" is the text x
        expect(await where((bind) => equalsValue(bind, extract([], bind), 'json', 'x'))).toEqual(['d']);
        // the number 1 is not the text "1"
        expect(await where((bind) => equalsValue(bind, extract(['n'], bind), 'json', '1'))).toEqual([]);
        expect(await where((bind) => `${extract(['nothing'], bind)} IS NULL`)).toEqual(['a', 'b', 'c', 'd']);
        expect(await where((bind) => `${extract(['n'], bind)} IS NULL`)).toEqual(['b', 'd']);
      });

      test('jsonItems() walks an array, takes any other value as one item, and null or a missing key as none', async () => {
        const counts = async (path: (string | number)[]) => {
          const params: SqlValue[] = [];
          const items = d.jsonItems(col('meta'), path, 'i', binder(params));
          const rows = await engine.all<{ id: string; n: number }>(
            `SELECT t.id AS id, (SELECT COUNT(*) FROM ${items.sql}) AS n FROM ${d.ident(docs)} t ORDER BY t.id`,
            params,
          );
          return rows.map((r) => [r.id, r.n]);
        };
        expect(await counts(['list'])).toEqual([
          ['a', 2],
          ['b', 0],
          ['c', 0],
          ['d', 0],
        ]);
        expect(await counts([])).toEqual([
          ['a', 1],
          ['b', 0],
          ['c', 1],
          ['d', 1],
        ]);
        expect(await counts(['n'])).toEqual([
          ['a', 1],
          ['b', 0],
          ['c', 1],
          ['d', 0],
        ]);
        const holding = (value: number | string, path: (string | number)[]) =>
          where((bind) => {
            const items = d.jsonItems(col('meta'), path, 'i', (v) => bind(v));
            return `EXISTS (SELECT 1 FROM ${items.sql} WHERE ${equalsValue(bind, items.value, 'json', value)})`;
          });
        expect(await holding(20, ['list'])).toEqual(['a']);
        expect(await holding('v', ['nested', 'k'])).toEqual(['a']);
        expect(await holding('x', [])).toEqual(['d']);
      });

      describe('on text, numbers and dates', () => {
        let t: string;
        beforeAll(async () => {
          t = fresh('values');
          await kindsTable(t);
          const rows: [string, Partial<Record<ColumnKind, unknown>>][] = [
            ['a', { text: 'Hello World', number: 1.5, bool: true, date: '2024-01-02 03:04:05.678Z' }],
            ['b', { text: '50% off', number: 12, date: '' }],
            ['c', { text: '500 off', number: 2, date: '2023-06-07 08:09:10.000Z', json: 'x' }],
            ['d', { text: 'a_b', number: 0 }],
            ['e', { text: '', number: -1 }],
          ];
          for (const [id, values] of rows) await insertKinds(t, id, { ...EMPTY, ...values });
        });
        const on = async (condition: (bind: ReturnType<typeof binder>) => string) => {
          const params: SqlValue[] = [];
          const sql = `SELECT t.id AS id FROM ${d.ident(t)} t WHERE ${condition(binder(params))} ORDER BY t.id`;
          return ids(await engine.all(sql, params));
        };

        test('like() is case-insensitive, with \\ escaping % and _', async () => {
          const like = (pattern: string, negate = false) => on((bind) => d.like(col('text'), bind(pattern, 'text'), negate));
          expect(await like('%WORLD%')).toEqual(['a']);
          expect(await like('hello world')).toEqual(['a']);
          expect(await like('50\\%%')).toEqual(['b']);
          expect(await like('50%')).toEqual(['b', 'c']);
          expect(await like('a\\_b')).toEqual(['d']);
          expect(await like('%o%', true)).toEqual(['d', 'e']);
        });

        test('same() is null-safe (in)equality', async () => {
          const pairs: [string, string, boolean][] = [
            ['NULL', 'NULL', true],
            ["'x'", 'NULL', false],
            ['NULL', "'x'", false],
            ["'x'", "'x'", true],
            ["'x'", "'y'", false],
          ];
          const sql = `SELECT ${pairs.flatMap(([l, r], i) => [`${d.same(l, r, false)} AS s${i}`, `${d.same(l, r, true)} AS n${i}`]).join(', ')}`;
          const row = (await engine.get(sql)) as Record<string, unknown>;
          pairs.forEach(([, , same], i) => {
            expect(d.decode('bool', row[`s${i}`])).toBe(same);
            expect(d.decode('bool', row[`n${i}`])).toBe(!same);
          });
        });

        test('isEmpty() and coalesceEmpty() take NULL and the empty value as one', async () => {
          expect(await on(() => d.isEmpty(col('text'), 'text', false))).toEqual(['e']);
          expect(await on(() => d.isEmpty(col('text'), 'text', true))).toEqual(['a', 'b', 'c', 'd']);
          expect(await on(() => d.isEmpty(col('date'), 'date', false))).toEqual(['b', 'd', 'e']);
          expect(await on(() => d.isEmpty(col('date'), 'date', true))).toEqual(['a', 'c']);
          expect(await on(() => d.isEmpty(col('json'), 'json', false))).toEqual(['a', 'b', 'd', 'e']);
          expect(await on(() => `${d.coalesceEmpty(col('date'), 'date')} = ''`)).toEqual(['b', 'd', 'e']);
          expect(await on(() => `${d.coalesceEmpty(col('json'), 'json')} = ''`)).toEqual(['a', 'b', 'd', 'e']);
        });

        test('asText() writes numbers, booleans and dates as text the way SQLite stores them', async () => {
          const asText = (column: string, type: FilterValueType, text: string) =>
            on((bind) => d.like(d.asText(col(column), type), bind(text, 'text'), false));
          expect(await asText('number', 'number', '1.5')).toEqual(['a']);
          expect(await asText('number', 'number', '12')).toEqual(['b']);
          expect(await asText('bool', 'bool', '1')).toEqual(['a']);
          expect(await asText('bool', 'bool', '0')).toEqual(['b', 'c', 'd', 'e']);
          expect(await asText('date', 'date', '2024-01-02 03:04:05.678Z')).toEqual(['a']);
          expect(await asText('text', 'text', 'a_b')).toEqual(['d']);
        });

        test('orderBy() sorts NULL, or the empty value, as the smallest', async () => {
          const order = async (desc: boolean) =>
            ids(
              await engine.all(
                `SELECT t.id AS id FROM ${d.ident(t)} t WHERE t.id IN ('a', 'b', 'c') ORDER BY ${d.orderBy(col('date'), desc)}`,
              ),
            );
          expect(await order(false)).toEqual(['b', 'c', 'a']);
          expect(await order(true)).toEqual(['a', 'c', 'b']);
          const byNumber = ids(await engine.all(`SELECT t.id AS id FROM ${d.ident(t)} t ORDER BY ${d.orderBy(col('number'), true)}`));
          expect(byNumber).toEqual(['b', 'c', 'a', 'd', 'e']);
        });

        test('param() bound with the compared type: text that means a number matches it, text that means no date matches nothing', async () => {
          expect(await on((bind) => `${col('number')} = ${bind('12', 'number')}`)).toEqual(['b']);
          expect(await on((bind) => `${col('number')} > ${bind('1.75', 'number')}`)).toEqual(['b', 'c']);
          expect(await on((bind) => `${col('date')} = ${bind('not a date', 'date')}`)).toEqual([]);
          expect(await on((bind) => `${col('number')} > ${bind('not a number', 'number')}`)).toEqual([]);
          expect(await on((bind) => `${col('date')} > ${bind('2023-12-31 00:00:00.000Z', 'date')}`)).toEqual(['a']);
        });

        test('deadline() holds for every row, and random() orders every row', async () => {
          expect(await on(() => d.deadline())).toEqual(['a', 'b', 'c', 'd', 'e']);
          const shuffled = ids(await engine.all(`SELECT t.id AS id FROM ${d.ident(t)} t ORDER BY ${d.random()}`));
          expect([...shuffled].sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
        });
      });

      test('insertChecked() inserts only when the counts hold, and answers them and whether the condition holds', async (ctx: TestContext) => {
        if (!d.insertChecked) ctx.skip('this engine has no insertChecked()');
        const check = d.insertChecked?.bind(d) as NonNullable<Dialect['insertChecked']>;
        const kids = fresh('kids');
        await createTable(kids, { parent: 'text' });
        await engine.run(`INSERT INTO ${d.ident(kids)} (id, parent) VALUES ('k0', 'a')`);
        const attempt = (id: string, parent: string) => {
          const sql = check(
            { table: d.ident(kids), columns: `${d.ident('id')}, ${d.ident('parent')}`, values: `${d.param(1)}, ${d.param(2)}` },
            [`(SELECT COUNT(*) FROM ${d.ident(docs)} WHERE id = ${d.param(2)})`],
            [1],
            'ins',
            // the condition's subquery sees the table before the insert
            `ins.${d.ident('parent')} = 'a' AND NOT EXISTS (SELECT 1 FROM ${d.ident(kids)} k WHERE k.id = ${d.param(1)})`,
          );
          return engine.values(sql, [id, parent]);
        };
        const answers = [await attempt('k1', 'a'), await attempt('k2', 'c'), await attempt('k3', 'nobody')];
        expect(answers.map((rows) => rows.map((r) => [r[0], d.decode('bool', r[1])]))).toEqual([[[1, true]], [[1, false]], [[0, false]]]);
        expect(ids(await engine.all(`SELECT id FROM ${d.ident(kids)} ORDER BY id`))).toEqual(['k0', 'k1', 'k2']);
      });
    });

    describe('capabilities', () => {
      test('shared, withLock() and channel() go together: a database several processes share has all three, one a single process owns none', () => {
        expect(typeof engine.withLock === 'function').toBe(engine.shared);
        expect(typeof engine.channel === 'function').toBe(engine.shared);
      });

      test('two holders of one lock name take turns, on one instance and across two, and a holder that throws lets the next in', async (ctx: TestContext) => {
        if (!engine.withLock) ctx.skip('this engine has no withLock(): only one process opens its database');
        const other = await openAnother();
        const log: string[] = [];
        const hold = (who: string, on: Engine, fail = false) =>
          (on.withLock as NonNullable<Engine['withLock']>)('contract:lock', async () => {
            log.push(`${who} in`);
            await sleep(150);
            log.push(`${who} out`);
            if (fail) throw new Error(`${who} failed`);
            return who;
          });
        const results = await Promise.allSettled([hold('a', engine, true), hold('b', other), hold('c', engine)]);
        expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'fulfilled']);
        expect(log).toHaveLength(6);
        for (let i = 0; i < 6; i += 2) {
          expect(log[i]?.endsWith(' in')).toBe(true);
          expect(log[i + 1]).toBe(log[i]?.replace(' in', ' out'));
        }
      });

      test('a message one instance publishes reaches another instance on the same database, and not the sender', async (ctx: TestContext) => {
        if (!engine.channel) ctx.skip('this engine has no channel(): only one process opens its database');
        const other = await openAnother();
        const here = engine.channel?.();
        const there = other.channel?.();
        if (!here || !there) throw new Error('channel() answered nothing');
        const heardHere: string[] = [];
        const heardThere: string[] = [];
        try {
          await here.subscribe(
            (m) => heardHere.push(m),
            () => {},
          );
          await there.subscribe(
            (m) => heardThere.push(m),
            () => {},
          );
          const sent = ['plain', 'ünï 🎉 "quoted" \\ nul:\u0000:end', `large:${'y'.repeat(20_000)}`];
          for (const m of sent) await here.publish(m);
          await until(() => heardThere.length >= sent.length);
          // the sender's own messages, had they come back, would come before this one
          await there.publish('reply');
          await until(() => heardHere.length >= 1);
          expect([...heardThere].sort()).toEqual([...sent].sort());
          expect(heardHere).toEqual(['reply']);
        } finally {
          await here.close();
          await there.close();
        }
      });
    });

    describe('close()', () => {
      let table: string;
      beforeAll(async () => {
        table = fresh('closing');
        await createTable(table);
      });
      const insert = (on: Executor, id: string) => on.run(`INSERT INTO ${d.ident(table)} (id) VALUES (${d.param(1)})`, [id]);
      /** The ids an engine opened afresh reads. */
      const reopened = async () => {
        const e = await openAnother();
        const rows = await e.all<{ id: string }>(`SELECT id FROM ${d.ident(table)} ORDER BY id`);
        await e.close();
        return rows.map((r) => r.id);
      };

      test('close() waits for writes started before it: they are committed, and an engine opened afterwards reads them', async () => {
        const closing = await openAnother();
        const writes = [
          closing.transaction(async (tx) => {
            await sleep(200);
            await insert(tx, 'slow-transaction');
          }),
          insert(closing, 'plain-run'),
        ];
        await closing.close();
        expect(await reopened()).toEqual(expect.arrayContaining(['plain-run', 'slow-transaction']));
        await Promise.all(writes);
      });

      test('a second close() resolves only once the engine is closed, its running work committed', async () => {
        const closing = await openAnother();
        const write = closing.transaction(async (tx) => {
          await sleep(200);
          await insert(tx, 'before-second-close');
        });
        void closing.close();
        await closing.close();
        expect(await reopened()).toContain('before-second-close');
        await write;
      });
    });
  });
}
