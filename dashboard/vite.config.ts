import { defineConfig } from "vite";

// The server serves the build at /ui/ (server/src/http/dashboard-assets.ts). In dev mode
// (`npm run dev -w dashboard`) Vite serves the sources and forwards the RPCs to a running server.
const target = process.env.AIKI_URL ?? "http://127.0.0.1:9850";

export default defineConfig({
  base: "/ui/",
  root: import.meta.dirname,
  build: { outDir: "dist", emptyOutDir: true, chunkSizeWarningLimit: 1024 },
  server: {
    proxy: { "^/(aiki\\.v1|grpc)\\.": { target, changeOrigin: true } },
  },
});
