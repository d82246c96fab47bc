// The scenario format (docs/scenario-format.md): one operation per line,
// `#` comments, names, numbers with K/M/G suffixes. Parsing checks the
// syntax of every line up front; whether a process or region exists is
// checked when the line runs. Errors carry the file and line.

import { parseKnob, type KnobName } from "../knobs.js";

export type Op =
  | { op: "spawn"; line: number; proc: string }
  | { op: "mmap"; line: number; proc: string; region: string; size: number; advice: "thp" | "nothp" | null }
  | { op: "touch"; line: number; proc: string; region: string; off: number; len: number; mode: "read" | "write" }
  | { op: "fork"; line: number; proc: string; child: string }
  | { op: "exit"; line: number; proc: string }
  | { op: "munmap"; line: number; proc: string; region: string; off: number; len: number }
  | { op: "mprotect"; line: number; proc: string; region: string; off: number; len: number; prot: "none" | "r" | "rw" }
  | { op: "madvise"; line: number; proc: string; region: string; off: number; len: number; advice: "dontneed" | "hugepage" | "nohugepage" | "collapse" }
  | { op: "split"; line: number; proc: string; region: string; off: number; len: number }
  | { op: "shrink"; line: number }
  | { op: "dump"; line: number; label: string | null }
  | { op: "sysfs"; line: number; knob: KnobName; value: string | number }
  | { op: "inspect"; line: number; proc: string; region: string; off: number };

/** A scenario error: `FILE:LINE: message`. */
export class ScenarioError extends Error {
  constructor(readonly file: string, readonly line: number, readonly reason: string) {
    super(`${file}:${line}: ${reason}`);
  }
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const NUMBER = /^(0[xX][0-9a-fA-F]+|[0-9]+)([kKmMgG]?)$/;
const SHIFT: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
const ARITY: Record<string, [number, number, string]> = {
  spawn: [1, 1, "spawn P"],
  mmap: [3, 4, "mmap P R SIZE [thp|nothp]"],
  touch: [4, 5, "touch P R OFF LEN [write|read]"],
  fork: [2, 2, "fork P Q"],
  exit: [1, 1, "exit P"],
  munmap: [4, 4, "munmap P R OFF LEN"],
  mprotect: [5, 5, "mprotect P R OFF LEN none|r|rw"],
  madvise: [5, 5, "madvise P R OFF LEN dontneed|hugepage|nohugepage|collapse"],
  split: [4, 4, "split P R OFF LEN"],
  shrink: [0, 0, "shrink"],
  dump: [0, 1, "dump [LABEL]"],
  sysfs: [2, 2, "sysfs KNOB VALUE"],
  inspect: [3, 3, "inspect P R OFF"],
};

/** Parse a number token: decimal or hex, optional K/M/G; a multiple of 4 KiB. */
export function parseNumber(tok: string, what: string): number {
  const m = NUMBER.exec(tok);
  if (!m) throw new Error(`invalid ${what} '${tok}' (expected a number like 4096, 0x1000, 4K, 2M or 1G)`);
  const v = Number(m[1].toLowerCase().startsWith("0x") ? BigInt(m[1]) : BigInt(m[1])) * SHIFT[m[2].toLowerCase()];
  if (!Number.isSafeInteger(v)) throw new Error(`${what} '${tok}' is too large`);
  if (v % 4096 !== 0) throw new Error(`${what} '${tok}' is not a multiple of 4 KiB`);
  return v;
}

function name(tok: string, what: string): string {
  if (!NAME.test(tok)) throw new Error(`invalid ${what} name '${tok}'`);
  if (tok.length > 32) throw new Error(`${what} name '${tok}' is longer than 32 characters`);
  return tok;
}

function oneOf<T extends string>(tok: string, allowed: readonly T[], what: string): T {
  if (!(allowed as readonly string[]).includes(tok)) throw new Error(`unknown ${what} '${tok}' (expected ${allowed.join(", ")})`);
  return tok as T;
}

/** Parse one line (already stripped of its comment); null for a blank line. */
export function parseLine(text: string, line: number): Op | null {
  const toks = text.split(/[ \t]+/).filter((t) => t.length > 0);
  if (toks.length === 0) return null;
  const [kw, ...a] = toks;
  const ar = ARITY[kw];
  if (!ar) throw new Error(`unknown operation '${kw}'`);
  if (a.length < ar[0] || a.length > ar[1]) throw new Error(`wrong number of arguments: usage: ${ar[2]}`);
  switch (kw) {
    case "spawn": return { op: "spawn", line, proc: name(a[0], "process") };
    case "exit": return { op: "exit", line, proc: name(a[0], "process") };
    case "fork": return { op: "fork", line, proc: name(a[0], "process"), child: name(a[1], "process") };
    case "mmap": {
      const size = parseNumber(a[2], "size");
      if (size === 0) throw new Error(`mmap size must be greater than 0`);
      const advice = a[3] === undefined ? null : oneOf(a[3], ["thp", "nothp"] as const, "mmap advice");
      return { op: "mmap", line, proc: name(a[0], "process"), region: name(a[1], "region"), size, advice };
    }
    case "touch": return {
      op: "touch", line, proc: name(a[0], "process"), region: name(a[1], "region"),
      off: parseNumber(a[2], "offset"), len: parseNumber(a[3], "length"),
      mode: a[4] === undefined ? "write" : oneOf(a[4], ["write", "read"] as const, "access mode"),
    };
    case "munmap":
    case "split": return {
      op: kw, line, proc: name(a[0], "process"), region: name(a[1], "region"),
      off: parseNumber(a[2], "offset"), len: parseNumber(a[3], "length"),
    };
    case "mprotect": return {
      op: "mprotect", line, proc: name(a[0], "process"), region: name(a[1], "region"),
      off: parseNumber(a[2], "offset"), len: parseNumber(a[3], "length"),
      prot: oneOf(a[4], ["none", "r", "rw"] as const, "protection"),
    };
    case "madvise": return {
      op: "madvise", line, proc: name(a[0], "process"), region: name(a[1], "region"),
      off: parseNumber(a[2], "offset"), len: parseNumber(a[3], "length"),
      advice: oneOf(a[4], ["dontneed", "hugepage", "nohugepage", "collapse"] as const, "madvise advice"),
    };
    case "shrink": return { op: "shrink", line };
    case "dump": return { op: "dump", line, label: a[0] === undefined ? null : a[0] };
    case "sysfs": return { op: "sysfs", line, ...parseKnob(a[0], a[1]) };
    case "inspect": return {
      op: "inspect", line, proc: name(a[0], "process"), region: name(a[1], "region"), off: parseNumber(a[2], "offset"),
    };
  }
  throw new Error(`unknown operation '${kw}'`);
}

/** Parse a whole scenario; the first bad line throws a ScenarioError. */
export function parseScenario(text: string, file = "<scenario>"): Op[] {
  const ops: Op[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    const hash = raw.indexOf("#");
    const body = hash >= 0 ? raw.slice(0, hash) : raw;
    // eslint-disable-next-line no-control-regex
    if (/[^\x20-\x7e\t]/.test(body)) throw new ScenarioError(file, i + 1, `invalid character in line`);
    try {
      const op = parseLine(body, i + 1);
      if (op) ops.push(op);
    } catch (err) {
      throw new ScenarioError(file, i + 1, (err as Error).message);
    }
  }
  return ops;
}

/** The scenario in normalized form (decimal bytes, explicit defaults), as the kernel runner reads it. */
export function normalizeOp(op: Op): string {
  switch (op.op) {
    case "spawn": case "exit": return `${op.op} ${op.proc}`;
    case "fork": return `fork ${op.proc} ${op.child}`;
    case "mmap": return `mmap ${op.proc} ${op.region} ${op.size}${op.advice ? " " + op.advice : ""}`;
    case "touch": return `touch ${op.proc} ${op.region} ${op.off} ${op.len} ${op.mode}`;
    case "munmap": case "split": return `${op.op} ${op.proc} ${op.region} ${op.off} ${op.len}`;
    case "mprotect": return `mprotect ${op.proc} ${op.region} ${op.off} ${op.len} ${op.prot}`;
    case "madvise": return `madvise ${op.proc} ${op.region} ${op.off} ${op.len} ${op.advice}`;
    case "shrink": return "shrink";
    case "dump": return op.label === null ? "dump" : `dump ${op.label}`;
    case "sysfs": return `sysfs ${op.knob} ${op.value}`;
    case "inspect": return `inspect ${op.proc} ${op.region} ${op.off}`;
  }
}
