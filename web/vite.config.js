// `npm run build` writes dist/: four pages and their assets, which the
// weibing binary embeds: index.html (the wall, at /), console.html (the staff
// console, at /console), review.html (the monthly review for print, at
// /console/review) and view.html (a leader's link, at /v/<token>).
import { defineConfig } from 'vite';

export default defineConfig({
  base: '/',
  publicDir: false,
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
    target: 'es2020',
    // The font files stay files (cached for good), never data: URIs.
    assetsInlineLimit: 0,
    chunkSizeWarningLimit: 1200,
    reportCompressedSize: true,
    rollupOptions: {
      input: {
        index: 'index.html',
        console: 'console.html',
        review: 'review.html',
        view: 'view.html',
      },
    },
  },
});
