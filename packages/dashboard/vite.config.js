import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

// CodeMirror mounts its styles through style-mod, which uses a constructed stylesheet (CSSOM, which the
// page's CSP does not govern) only inside a shadow root and a <style> tag in a document, which our CSP
// (style-src 'self', no inline style) refuses. This makes it take the constructed sheet in the document
// too (Chromium, Firefox and Safari 16.4+ have document.adoptedStyleSheets); the build fails if the
// line it rewrites ever changes.
const STYLE_MOD_TEST = '!root.head && root.adoptedStyleSheets && win.CSSStyleSheet';
const adoptedStyles = {
  name: 'style-mod-adopted-sheets',
  enforce: 'pre',
  transform(code, id) {
    if (!/[\\/]style-mod[\\/]src[\\/]style-mod\.js$/.test(id)) return null;
    if (!code.includes(STYLE_MOD_TEST)) throw new Error('style-mod changed: review the adopted-sheets patch in vite.config.js');
    return code.replace(STYLE_MOD_TEST, 'root.adoptedStyleSheets && win.CSSStyleSheet');
  },
};

// Built into the server package, which serves it at /_/ (packages/mainspring/src/http/routes/dashboard.ts).
export default defineConfig({
  base: '/_/',
  plugins: [
    adoptedStyles,
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
