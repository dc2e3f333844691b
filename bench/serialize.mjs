// Does serializing records by schema (fast-json-stringify, which Fastify
// ships) beat JSON.stringify on our answers? Issue 9 asks for it "where it
// measurably helps"; this prints both, side by side in one process, for one
// record (a view) and a page of 50 (a list), shaped as the benchmark's posts.
//
//   node bench/serialize.mjs
import fastJson from 'fast-json-stringify';
import { PAGE, post } from './dataset.mjs';

const record = (i) => ({
  collectionId: 'pbc_1125843985',
  collectionName: 'posts',
  id: `r${String(i).padStart(14, '0')}`,
  ...post(i),
  category: `c${String(i % 100).padStart(14, '0')}`,
  author: 'u00000000000001',
  created: '2026-11-30 03:14:10.123Z',
  updated: '2026-11-30 03:14:10.123Z',
});
const string = { type: 'string' };
const number = { type: 'number' };
const recordSchema = {
  type: 'object',
  properties: {
    collectionId: string,
    collectionName: string,
    id: string,
    title: string,
    n: number,
    score: number,
    category: string,
    author: string,
    created: string,
    updated: string,
  },
};
const listSchema = {
  type: 'object',
  properties: { page: number, perPage: number, totalItems: number, totalPages: number, items: { type: 'array', items: recordSchema } },
};

const one = record(12345);
const list = { page: 1, perPage: PAGE, totalItems: 1000, totalPages: 20, items: Array.from({ length: PAGE }, (_, i) => record(i)) };
const bySchema = { one: fastJson(recordSchema), list: fastJson(listSchema) };
for (const [name, value] of [
  ['one', one],
  ['list', list],
]) {
  if (bySchema[name](value) !== JSON.stringify(value)) throw new Error(`the two serializations of ${name} differ`);
}

/** µs per call, the best of five rounds. */
function time(fn, calls) {
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) fn();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / calls / 1000);
  }
  return best;
}

for (const [name, value, calls] of [
  ['one record', one, 200_000],
  [`a page of ${PAGE}`, list, 20_000],
]) {
  const key = name === 'one record' ? 'one' : 'list';
  const plain = time(() => JSON.stringify(value), calls);
  const schema = time(() => bySchema[key](value), calls);
  console.log(
    `${name}: JSON.stringify ${plain.toFixed(2)} µs, fast-json-stringify ${schema.toFixed(2)} µs (${(plain / schema).toFixed(2)}× as fast)`,
  );
}
