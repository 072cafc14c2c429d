// `npm run build` writes dist/ (index.html + assets/), which the weibing
// binary embeds and serves at / and /assets/*.
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
  },
});
