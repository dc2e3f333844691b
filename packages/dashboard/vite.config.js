import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

// Built into the server package, which serves it at /_/ (packages/mainspring/src/http/routes/dashboard.ts).
export default defineConfig({
  base: '/_/',
  plugins: [
    svelte({
      // panels copy their props on purpose (an edit form starts from the record it was opened with)
      onwarn(warning, handler) {
        if (warning.code !== 'state_referenced_locally') handler(warning);
      },
    }),
  ],
  build: {
    outDir: '../mainspring/dashboard',
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    target: 'es2022',
  },
  server: { proxy: { '/api': 'http://127.0.0.1:8090' } },
});
