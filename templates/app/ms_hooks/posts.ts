import type { TypedMainspring } from './_types';

// Hooks for `posts`, typed by the generated ms_hooks/_types.ts (`npm run types`).
export default (ms: TypedMainspring) => {
  // a slug from the title when none is given; new posts start as drafts
  ms.onRecordCreate(async (e) => {
    if (!e.record.slug) {
      e.record.slug = e.record.title
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/^-|-$/g, '');
    }
    if (!e.record.status) e.record.status = 'draft';
    await e.next();
  }, 'posts');

  // GET /api/posts/count: how many posts are published
  ms.routerAdd('GET', '/api/posts/count', async () => ({
    published: await ms.records.count('posts', 'status = "published"'),
  }));
};
