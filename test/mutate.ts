// The mutation fuzzer's mutator (test/mutation.test.ts): corrupts valid
// scenarios the way a careless user, a broken editor or a hostile file
// would: tokens swapped, dropped or doubled, numbers made huge, negative or
// fractional, keywords and names replaced (JavaScript's own property names
// among them), NUL bytes and other control characters, invalid UTF-8 (as
// bytes for the CLI, as U+FFFD and lone surrogates for the API), 1 MB
// lines, lines deleted, duplicated or moved, the text cut anywhere.
// Seeded (the fuzz generator's mulberry32): the same seed, the same mutant.
import fs from "node:fs";
import path from "node:path";
import { mulberry32, generateScenario, runSeed } from "../src/scenario/generate.js";
import type { KernelName } from "../src/profiles.js";
import { examplesDir, EVERY_KIND } from "./helpers.js";
import { OP_NAMES } from "../src/scenario/ops.js";
import { KNOB_NAMES } from "../src/knobs.js";

export { mulberry32 };
export type Rng = () => number;

const pick = <T>(r: Rng, xs: readonly T[]): T => xs[r() % xs.length];

/** Numbers that break something somewhere: 2^53±1, 2^64, negative, fractional, hex, suffixes, empty. */
export const NASTY_NUMBERS = [
  "0", "-0", "-4096", "-1", "4097", "1", "4095", "0x", "0x0", "0X1000", "0xfffffffffffffffff000", "9007199254740992", "9007199254740993",
  "18446744073709551616", "340282366920938463463374607431768211456", "1e9", "4096.0", "4096.5", "NaN", "Infinity", "-Infinity",
  "4K4K", "2MM", "2m", "2g", "0x10k", "128T", "131072G", "131071G", "99999999G", "4096 ", "+4096", "04096", "0o10", "0b1000",
  "2M\u0000", "\u0664\u0660\u0669\u0666", "１", `${"9".repeat(70)}`, `0x${"f".repeat(70)}`, `${"1".repeat(200)}K`,
];
/** Names that are properties of every JavaScript object, or nearly valid. */
export const NASTY_NAMES = [
  "__proto__", "constructor", "toString", "hasOwnProperty", "prototype", "valueOf", "p0", "R0", "_", "a".repeat(32), "a".repeat(33),
  "0p", "p-0", "p.0", "P0", "undefined", "null", "NaN", "",
];
/** Characters that do not belong in a scenario line. */
export const NASTY_CHARS = ["\u0000", "\uFFFD", "\uD800", "\uDC00", "\u00e9", "\u00a0", "\u2028", "\u2029", "\r", "\v", "\f", "\u001b", "\u007f", "\u{1F600}", "\uFEFF", "\t", "#", " "];

const tokensOf = (line: string) => line.split(/([ \t]+)/);

/** One mutation of the text (a string; see mutateBytes for raw bytes). */
export function mutateOnce(text: string, r: Rng): string {
  const lines = text.split("\n");
  const li = r() % lines.length;
  const line = lines[li];
  const toks = tokensOf(line); // words at even indexes, separators at odd ones
  const words = toks.map((t, i) => (i % 2 === 0 && t.length > 0 ? i : -1)).filter((i) => i >= 0);
  const w = words.length ? pick(r, words) : -1;
  const setWord = (s: string) => { if (w >= 0) toks[w] = s; else toks.push(s); lines[li] = toks.join(""); };
  const numeric = words.filter((i) => /^(0x)?[0-9]/i.test(toks[i]));
  switch (r() % 18) {
    case 0: { // swap two tokens of the line
      if (words.length >= 2) { const a = pick(r, words), b = pick(r, words); [toks[a], toks[b]] = [toks[b], toks[a]]; lines[li] = toks.join(""); }
      break;
    }
    case 1: { // swap tokens across lines
      const lj = r() % lines.length;
      const other = tokensOf(lines[lj]);
      const ow = other.map((t, i) => (i % 2 === 0 && t ? i : -1)).filter((i) => i >= 0);
      if (w >= 0 && ow.length) { const b = pick(r, ow); const t = toks[w]; toks[w] = other[b]; other[b] = t; lines[li] = toks.join(""); if (lj !== li) lines[lj] = other.join(""); }
      break;
    }
    case 2: case 3: { // a nasty number in place of a number (or of any token)
      const at = numeric.length ? pick(r, numeric) : w;
      if (at >= 0) { toks[at] = pick(r, NASTY_NUMBERS); lines[li] = toks.join(""); }
      break;
    }
    case 4: setWord(pick(r, NASTY_NAMES)); break;
    case 5: setWord(pick(r, [...OP_NAMES, ...KNOB_NAMES, "thp", "nothp", "read", "write", "none", "r", "rw", "dontneed", "collapse", "hugepage", "SPAWN", "Touch"])); break;
    case 6: { // a nasty character anywhere in the line
      const at = r() % (line.length + 1);
      lines[li] = line.slice(0, at) + pick(r, NASTY_CHARS) + line.slice(at);
      break;
    }
    case 7: lines.splice(li, 1); break; // delete a line
    case 8: lines.splice(li, 0, line); break; // duplicate it
    case 9: { const lj = r() % lines.length; [lines[li], lines[lj]] = [lines[lj], lines[li]]; break; } // move it
    case 10: { // drop a word
      if (w >= 0) { toks.splice(w, 1); lines[li] = toks.join(""); }
      break;
    }
    case 11: { // double a word
      if (w >= 0) { toks.splice(w, 0, toks[w], " "); lines[li] = toks.join(""); }
      break;
    }
    case 12: { // cut the text anywhere
      const flat = lines.join("\n");
      return flat.slice(0, r() % (flat.length + 1));
    }
    case 13: { // a character changed to any printable ASCII one
      if (line.length) { const at = r() % line.length; lines[li] = line.slice(0, at) + String.fromCharCode(32 + (r() % 95)) + line.slice(at + 1); }
      break;
    }
    case 14: lines[li] = line.toUpperCase(); break;
    case 15: lines[li] = line.replace(/ /g, pick(r, ["\t", "  ", " \t ", "\r"])); break;
    case 16: lines.splice(li, 0, pick(r, ["", "#", "   ", "\t", "# " + "x".repeat(100), "dump", "shrink", "dump " + "l".repeat(64)])); break;
    default: { // a random number of the right shape but any value
      const at = numeric.length ? pick(r, numeric) : -1;
      if (at >= 0) { toks[at] = String(r() % 2 ? (r() % 64) * 4096 : r()) + pick(r, ["", "", "K", "M", "G"]); lines[li] = toks.join(""); }
    }
  }
  return lines.join("\n");
}

/** One to three mutations. */
export function mutate(text: string, r: Rng): string {
  let t = text;
  const n = 1 + (r() % 3);
  for (let i = 0; i < n; i++) t = mutateOnce(t, r);
  return t;
}

/** The big ones (a few per run: they cost time): a 1 MB line of some kind, in place of a line or added. */
export function hugeLine(text: string, r: Rng): string {
  const MB = 1 << 20;
  const lines = text.split("\n");
  const kinds = [
    () => "a".repeat(MB), // a 1 MB keyword
    () => "spawn " + "p".repeat(MB), // a 1 MB name
    () => "mmap p0 R9 " + "9".repeat(MB), // a 1 MB number
    () => "# " + "x".repeat(MB), // a 1 MB comment (valid)
    () => " ".repeat(MB), // a 1 MB blank line (valid)
    () => "dump " + "L".repeat(MB), // a 1 MB label (valid)
    () => "touch" + " p0 R0 0 4K".repeat(MB / 11), // a million arguments
    () => "\u0000".repeat(MB),
  ];
  const l = pick(r, kinds)();
  const at = r() % (lines.length + 1);
  if (r() % 2) lines.splice(at, 0, l); else lines[Math.min(at, lines.length - 1)] = l;
  return lines.join("\n");
}

/** Bytes for the CLI: the text's UTF-8 with invalid sequences put in (lone continuation bytes, overlongs, truncated sequences, 0xFF). */
export function mutateBytes(text: string, r: Rng): Buffer {
  const b = Buffer.from(text, "utf8");
  const bad = pick(r, [[0x80], [0xff], [0xc0, 0xaf], [0xe2, 0x82], [0xf0, 0x9f, 0x98], [0xed, 0xa0, 0x80], [0xfe, 0xff], [0x00], [0xef, 0xbb, 0xbf]]);
  const at = r() % (b.length + 1);
  return Buffer.concat([b.subarray(0, at), Buffer.from(bad), b.subarray(at)]);
}

// ---- the corpus ---------------------------------------------------------------------------
/** A state with every kind of mapping (helpers.ts EVERY_KIND, plus mTHP, knobs, collapse, split, shrink, inspect and a dump). */
export const RICH = EVERY_KIND.trim().replace(/spawn Z\nexit Z$/, `sysfs hugepages-64kB/enabled always
mmap Q m 256K
touch Q m 0 256K
madvise Q buf 0 2M collapse
split P buf 0 4K
shrink
inspect P small 0
dump d
spawn Z\nexit Z`);

/** The valid scenarios mutants are made from: the examples, RICH, 24 generated ones (from `seed`). */
export function corpus(kernel: KernelName, seed: number): string[] {
  const out: string[] = [];
  for (const f of fs.readdirSync(examplesDir).filter((f) => f.endsWith(".scn")).sort()) out.push(fs.readFileSync(path.join(examplesDir, f), "utf8"));
  out.push(kernel === "linux-6.18" ? RICH : RICH.replace(/^sysfs hugepages.*$|^madvise Q buf 0 2M collapse$/gm, ""));
  for (let i = 0; i < 24; i++) out.push(generateScenario(runSeed(seed, i), { ops: 14, kernel, maxRegionPages: 1024 }));
  return out;
}


/** An input for a failure message: JSON-quoted, a long one cut in the middle. */
export const show = (s: string) => JSON.stringify(s.length > 600 ? s.slice(0, 300) + `…(${s.length} chars)…` + s.slice(-200) : s);
