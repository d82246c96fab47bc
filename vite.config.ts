// The web page (web/): `npm run web` builds it into dist/web and serves it
// with `vite preview` on http://localhost:4173/. The page imports the
// emulator's TypeScript sources directly; src/core/loader.ts finds the core
// with `new URL("../../build/thpemu.wasm", import.meta.url)`, which Vite
// turns into an emitted asset, so the built page is self-contained and works
// offline from any static server (the .wasm is served as application/wasm by
// vite preview; loader.ts falls back to arrayBuffer when a server is not).
import { defineConfig } from "vite";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("./web", import.meta.url));
const outDir = fileURLToPath(new URL("./dist/web", import.meta.url));

export default defineConfig({
  root,
  base: "./",
  build: {
    outDir,
    emptyOutDir: true,
    target: "es2022",
    // the wasm core is an asset of its own, never inlined as base64
    assetsInlineLimit: 0,
    reportCompressedSize: false,
    rolldownOptions: {
      // loader.ts imports node:fs/promises only when it runs in Node (a
      // dynamic import never reached in a browser): keep it out of the bundle
      // instead of Vite's empty browser stub (and its warning)
      external: ["node:fs/promises"],
    },
  },
  server: { port: 5173, fs: { allow: [fileURLToPath(new URL(".", import.meta.url))] } },
  preview: { port: 4173, strictPort: true, host: "localhost" },
});
