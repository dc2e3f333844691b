// The data every benchmarked server holds and the parameters of every
// scenario's requests, so Mainspring and its peers (bench/peers/) answer the
// very same questions about the very same records. Deterministic: the same
// record count gives the same rows on every run and every server.
//
// posts: title (text, unindexed for `search_scan`; declared searchable by the
// `search` and `search_ranked` scenarios), n (number,
// indexed: 0..records-1, unique), score (number, not indexed), author (the
// bench user) and category (one of CATEGORIES categories).

export const CATEGORIES = 100;
/** Posts in each list query's window of `n` (of which a page of PAGE is read, with the total count). */
export const LIST_WINDOW = 1_000;
export const PAGE = 50;
/**
 * Connections of the scenarios whose every request costs tens of ms (login:
 * bcrypt; search: a scan of every title): with 50, a request would mostly
 * wait behind the 49 others, and the slowest servers' answers would pass
 * the load generator's 10 s timeout.
 */
export const SLOW_CONNECTIONS = 8;
/** How many different parameter sets each scenario cycles through. */
export const VARIANTS = 1_000;

// 96 words, none inside another, so `title ~ word` finds exactly the posts that have it.
const WORDS =
  'apple banana cherry damson elder fig grape hazel iris juniper kiwi lemon mango nectar olive papaya quince rowan sage tamarind ugli vanilla walnut yarrow zucchini acorn birch cedar dahlia ebony fennel ginger heather indigo jasmine kelp lotus maple nutmeg orchid pepper quartz radish saffron thyme umber violet willow xenon yucca zinnia amber bronze copper denim emerald flint garnet harbor ivory jade khaki lilac marble nickel onyx pearl quill ruby silver topaz umbra velvet wheat yellow zephyr anchor beacon canyon delta engine falcon glacier horizon island jungle kernel lagoon meadow nebula oasis prairie quasar river summit tundra'.split(
    ' ',
  );

/** Post number `i` (0-based): its fields, with the category as an index into the categories. */
export function post(i) {
  return {
    title: `Post ${i} about ${WORDS[i % WORDS.length]} and ${WORDS[(i * 7 + 3) % WORDS.length]}`,
    n: i,
    score: (i * 7919) % 1000,
    category: i % CATEGORIES,
  };
}

export const categoryName = (c) => `Category ${c}`;

/** A small deterministic generator (mulberry32), so every server gets the same "random" parameters. */
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The parameters of each scenario, VARIANTS of each, cycled by the load:
 * - view:   the post number to read (its id is the server's)
 * - list:   `from`: posts with from <= n < from + LIST_WINDOW, sorted by n descending, first PAGE, with the total
 * - search: a word; posts whose title contains it (case-insensitive), sorted by n descending, first PAGE, with the total
 * - update: the post number to change and its new score
 * - create: a post's fields (its title also gets a unique key per request)
 */
export function scenarioParams(records) {
  const rnd = random(42);
  const pick = (max) => Math.floor(rnd() * max);
  const list = Array.from({ length: VARIANTS }, () => ({ from: pick(Math.max(1, records - LIST_WINDOW)) }));
  return {
    view: Array.from({ length: VARIANTS }, () => pick(records)),
    list,
    search: Array.from({ length: VARIANTS }, (_, i) => WORDS[i % WORDS.length]),
    update: Array.from({ length: VARIANTS }, () => ({ post: pick(records), score: pick(1000) })),
    create: Array.from({ length: VARIANTS }, () => {
      const p = post(records + pick(records));
      return { title: `${p.title} new`, n: p.n, score: p.score, category: p.category };
    }),
  };
}

export const BENCH_USER = { email: 'bench-user@example.com', password: 'bench-password-123' };

// ---------------------------------------------------------------------------
// PocketBase's own benchmark data (github.com/pocketbase/benchmarks), for
// `npm run bench -- --pocketbase-shapes` (pocketbase-shapes.mjs): users with
// one password, and a `posts10k` collection whose posts each have a random
// author, two random `type`s of four, a public flag and one long description.
// Random there; here the same seeded generator as above, so every run (and
// the expected counts the script checks) is the same.

/** Users PocketBase's benchmark creates (250 and 250 more); the first signs in. */
export const PB_USERS = 500;
/** Posts of its `posts10k` collection. */
export const PB_POSTS = 10_000;
/** Every user's password (PocketBase's benchmark uses this one). */
export const PB_PASSWORD = '1234567890';
/** The values of the multi-select `type`. */
export const PB_TYPES = ['a', 'b', 'c', 'd'];
const PB_DESCRIPTION =
  'Lorem ipsum dolor sit amet, consectetur adipiscing elit. Donec sit amet sodales nisl, quis pretium nunc. Suspendisse vel auctor velit, sed luctus lectus. Phasellus rhoncus imperdiet feugiat. Duis et laoreet felis, ut facilisis enim. Quisque aliquet aliquam magna eget eleifend. Duis sed tellus nibh. Nunc ac lacus auctor, scelerisque magna congue, euismod purus. Fusce sollicitudin pharetra egestas. Quisque pulvinar augue nec aliquam placerat. Suspendisse dapibus ornare sodales.';

/** User `i`'s e-mail, as PocketBase's benchmark names them. */
export const pbUserEmail = (i) => `users${i}@example.com`;

/** The posts: each with `author` as an index into the users, and `type` two picks of PB_TYPES (once each). */
export function pbPosts(count = PB_POSTS, users = PB_USERS) {
  const rnd = random(7);
  const pick = (list) => list[Math.floor(rnd() * list.length)];
  return Array.from({ length: count }, (_, i) => ({
    title: `posts10k${i}`,
    description: PB_DESCRIPTION,
    public: i % 2 === 1,
    type: [...new Set([pick(PB_TYPES), pick(PB_TYPES)])],
    author: Math.floor(rnd() * users),
  }));
}
