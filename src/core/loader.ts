// The only module that loads the WebAssembly core. In Node it reads the
// .wasm with fs; in a browser it streams it with fetch. Either way the file
// is found relative to this module (new URL(..., import.meta.url)), which
// works from src/ (tests), dist/ (the package) and bundlers alike.

const WASM_URL = new URL("../../build/thpemu.wasm", import.meta.url);
const WASM_DEBUG_URL = new URL("../../build/thpemu.debug.wasm", import.meta.url);

let compiled: Promise<WebAssembly.Module> | undefined;
let compiledDebug: Promise<WebAssembly.Module> | undefined;

const isNode = typeof process !== "undefined" && !!process.versions?.node && WASM_URL.protocol === "file:";

async function compile(url: URL): Promise<WebAssembly.Module> {
  if (isNode) {
    // one synchronous read: a 26 KB file, read once per process (fs/promises would take four thread-pool round trips)
    const { readFileSync } = await import("node:fs");
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(url);
    } catch {
      throw new Error(`thpemu: the WebAssembly core ${url.pathname} is missing; run \`npm run build\` first`);
    }
    return WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
  }
  const response = fetch(url);
  if (typeof WebAssembly.compileStreaming === "function") {
    try {
      return await WebAssembly.compileStreaming(response);
    } catch {
      // a server without application/wasm: fall back to bytes
    }
  }
  const r = await fetch(url);
  return WebAssembly.compile(await r.arrayBuffer());
}

/** The compiled core module (compiled once per process/page, cached). */
export function loadCoreModule(debug = false): Promise<WebAssembly.Module> {
  if (debug) return (compiledDebug ??= compile(WASM_DEBUG_URL));
  return (compiled ??= compile(WASM_URL));
}

/** A fresh instance: every Machine owns its own linear memory. */
export async function instantiateCore(debug = false): Promise<WebAssembly.Instance> {
  const module = await loadCoreModule(debug);
  return WebAssembly.instantiate(module, {
    env: {
      abort(_msg: number, _file: number, line: number, col: number) {
        throw new Error(`thpemu core: assertion failed at ${line}:${col}`);
      },
    },
  });
}
