// The top self-time functions of a V8 .cpuprofile (what `node --cpu-prof`
// writes), to read a profile of one bench case without a GUI:
//
//   BENCH_ONLY="thp faults" node --expose-gc --cpu-prof --cpu-prof-dir=/tmp/prof bench/bench.mjs
//   node bench/cpuprofile-top.mjs /tmp/prof/CPU.*.cpuprofile [N]
//
// Prints the N (default 25) functions with the most self time: ms, share of
// the profile, name and file:line. WebAssembly functions show as
// wasm-function[i] unless the core was built with names (`npx asc
// assembly/index.ts --target release --debug`, then `npm run build` again).
import { readFileSync } from "node:fs";

const [file, n = "25"] = process.argv.slice(2);
if (!file) { console.error("usage: node bench/cpuprofile-top.mjs FILE.cpuprofile [N]"); process.exit(2); }
const p = JSON.parse(readFileSync(file, "utf8"));
const byNode = new Map();
for (let i = 0; i < p.samples.length; i++) byNode.set(p.samples[i], (byNode.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
const self = new Map();
let total = 0;
for (const node of p.nodes) {
  const t = byNode.get(node.id) ?? 0;
  total += t;
  const f = node.callFrame;
  const key = `${f.functionName || "(anonymous)"} ${f.url.split("/").slice(-2).join("/")}:${f.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + t);
}
for (const [key, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(n))) {
  console.log(`${(t / 1000).toFixed(0).padStart(7)} ms ${((100 * t) / total).toFixed(1).padStart(5)}%  ${key}`);
}
