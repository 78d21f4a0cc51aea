import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

// Built into dist/, which the hookgate binary embeds and serves at /ui/.
export default defineConfig({
  base: '/ui/',
  plugins: [preact()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, assetsInlineLimit: 0 },
});
