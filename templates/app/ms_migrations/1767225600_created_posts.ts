import type { Migration } from 'mainspring';

// The app's first collection. `npm start` applies the migrations here that this database has not seen yet, in
// filename order; each change you then make in the dashboard is written here as a new file (automigrate): commit them.
export default {
  async up(app) {
    await app.collections.create({
      id: 'pbc_posts',
      name: 'posts',
      type: 'base',
      listRule: 'status = "published" || author = @request.auth.id',
      viewRule: 'status = "published" || author = @request.auth.id',
      createRule: '@request.auth.id != "" && author = @request.auth.id',
      updateRule: 'author = @request.auth.id',
      deleteRule: 'author = @request.auth.id',
      fields: [
        { name: 'title', type: 'text', required: true, max: 200 },
        { name: 'slug', type: 'text', max: 200 },
        { name: 'body', type: 'editor' },
        { name: 'status', type: 'select', values: ['draft', 'published'], maxSelect: 1 },
        { name: 'author', type: 'relation', collectionId: '_pb_users_auth_', maxSelect: 1, required: true },
      ],
      indexes: ["CREATE UNIQUE INDEX idx_posts_slug ON posts (slug) WHERE slug != ''"],
    });
  },
  async down(app) {
    await app.collections.delete('posts');
  },
} satisfies Migration;
