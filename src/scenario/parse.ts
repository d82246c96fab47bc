// The scenario format (docs/scenario-format.md): one operation per line,
// `#` comments, names, numbers with K/M/G suffixes. Parsing checks the
// syntax of every line up front; whether a process or region exists is
// checked when the line runs. Errors carry the file and line.

import { parseKnob } from "../knobs.js";
import { OPERATIONS, arity, formatOp, type Arg, type Op, type OpSpec } from "./ops.js";

export type { Op } from "./ops.js";

/** A scenario error: `FILE:LINE: message`. */
export class ScenarioError extends Error {
  constructor(readonly file: string, readonly line: number, readonly reason: string) {
    super(`${file}:${line}: ${reason}`);
  }
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const NUMBER = /^(0[xX][0-9a-fA-F]+|[0-9]+)([kKmMgG]?)$/;
const SHIFT: Record<string, number> = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
/** Parse a number token: decimal or hex, optional K/M/G; a multiple of 4 KiB. */
export function parseNumber(tok: string, what: string): number {
  // more digits than any size can have: too large, without a (superlinear) BigInt of a megabyte of digits
  if (tok.length > 64 && NUMBER.test(tok)) throw new Error(`${what} '${tok}' is too large`);
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

/** Read one argument's token(s) into `out`. */
function readArg(a: Arg, toks: string[], out: Record<string, unknown>): void {
  const tok = toks[0];
  switch (a.kind) {
    case "name": out[a.field] = name(tok, a.what); return;
    case "number": {
      const v = parseNumber(tok, a.what);
      if (a.positive && v === 0) throw new Error(`mmap size must be greater than 0`);
      out[a.field] = v;
      return;
    }
    case "choice":
      out[a.field] = tok === undefined ? (a.optional === "null" ? null : a.optional) : oneOf(tok, a.values, a.what);
      return;
    case "label": out[a.field] = tok === undefined ? null : tok; return;
    case "knob": Object.assign(out, parseKnob(toks[0], toks[1])); return;
  }
}

/** Parse one line (already stripped of its comment); null for a blank line. */
export function parseLine(text: string, line: number): Op | null {
  const toks = text.split(/[ \t]+/).filter((t) => t.length > 0);
  if (toks.length === 0) return null;
  const [kw, ...a] = toks;
  if (!Object.prototype.hasOwnProperty.call(OPERATIONS, kw)) throw new Error(`unknown operation '${kw}'`);
  const spec = OPERATIONS[kw as Op["op"]] as OpSpec<Op>;
  const [min, max] = arity(spec);
  if (a.length < min || a.length > max) throw new Error(`wrong number of arguments: usage: ${spec.usage}`);
  const out: Record<string, unknown> = { op: kw, line };
  let i = 0;
  for (const arg of spec.args) {
    readArg(arg, a.slice(i), out);
    i += arg.kind === "knob" ? 2 : 1;
  }
  return out as Op;
}

/** Parse a whole scenario; the first bad line throws a ScenarioError. */
export function parseScenario(text: string, file = "<scenario>"): Op[] {
  // from JavaScript anything may come: a scenario is a string (a Buffer would be split as text otherwise)
  if (typeof file !== "string") file = "<scenario>";
  if (typeof text !== "string") throw new ScenarioError(file, 0, `a scenario must be a string, not ${text === null ? "null" : typeof text}`);
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
  return formatOp(op);
}
