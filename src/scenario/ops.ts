// The operations of the scenario language, declared once: each one's
// arguments (by kind), its usage line and summary, and what it does on a
// Machine. The parser, the normalizer the kernel runner reads, applyOp, the
// generator's line formatting and the CLI's help all come from this table.
import type { Machine, ObservationRecord } from "../machine.js";
import type { KnobName } from "../knobs.js";

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
export type OpName = Op["op"];

/** One positional argument: the Op field it fills and how its token is read. */
export type Arg =
  | { field: string; kind: "name"; what: "process" | "region" }
  | { field: string; kind: "number"; what: "size" | "offset" | "length"; positive?: boolean }
  | { field: string; kind: "choice"; what: string; values: readonly string[]; optional?: "null" | string }
  | { field: string; kind: "label" }
  | { field: "knob"; kind: "knob" };

export interface OpSpec<T extends Op> {
  /** the usage line (`touch P R OFF LEN [write|read]`) */
  usage: string;
  /** one line for --help */
  summary: string;
  args: readonly Arg[];
  /** Run it on a machine; the records it produces (dump, inspect) or none. */
  apply(m: Machine, op: T): ObservationRecord[] | void;
}

const P: Arg = { field: "proc", kind: "name", what: "process" };
const R: Arg = { field: "region", kind: "name", what: "region" };
const OFF: Arg = { field: "off", kind: "number", what: "offset" };
const LEN: Arg = { field: "len", kind: "number", what: "length" };

/** The table: every operation of docs/scenario-format.md, in the order --help lists them. */
export const OPERATIONS: { readonly [K in OpName]: OpSpec<Extract<Op, { op: K }>> } = {
  spawn: { usage: "spawn P", summary: "create a new, empty process P", args: [P], apply: (m, o) => m.spawn(o.proc) },
  mmap: {
    usage: "mmap P R SIZE [thp|nothp]", summary: "anonymous private read-write mapping R of SIZE bytes, 2 MiB aligned",
    args: [P, R, { field: "size", kind: "number", what: "size", positive: true },
      { field: "advice", kind: "choice", what: "mmap advice", values: ["thp", "nothp"], optional: "null" }],
    apply: (m, o) => m.mmap(o.proc, o.region, o.size, o.advice),
  },
  touch: {
    usage: "touch P R OFF LEN [write|read]", summary: "access every 4 KiB page of the range, ascending (default write)",
    args: [P, R, OFF, LEN, { field: "mode", kind: "choice", what: "access mode", values: ["write", "read"], optional: "write" }],
    apply: (m, o) => m.touch(o.proc, o.region, o.off, o.len, o.mode),
  },
  fork: {
    usage: "fork P Q", summary: "Q becomes a child of P with a copy of its address space",
    args: [P, { field: "child", kind: "name", what: "process" }], apply: (m, o) => m.fork(o.proc, o.child),
  },
  exit: { usage: "exit P", summary: "P exits; its address space is torn down", args: [P], apply: (m, o) => m.exit(o.proc) },
  munmap: { usage: "munmap P R OFF LEN", summary: "unmap that part of the region", args: [P, R, OFF, LEN], apply: (m, o) => m.munmap(o.proc, o.region, o.off, o.len) },
  mprotect: {
    usage: "mprotect P R OFF LEN none|r|rw", summary: "change the protection of that part",
    args: [P, R, OFF, LEN, { field: "prot", kind: "choice", what: "protection", values: ["none", "r", "rw"] }],
    apply: (m, o) => m.mprotect(o.proc, o.region, o.off, o.len, o.prot),
  },
  madvise: {
    usage: "madvise P R OFF LEN dontneed|hugepage|nohugepage|collapse", summary: "MADV_DONTNEED, MADV_HUGEPAGE, MADV_NOHUGEPAGE, MADV_COLLAPSE",
    args: [P, R, OFF, LEN, { field: "advice", kind: "choice", what: "madvise advice", values: ["dontneed", "hugepage", "nohugepage", "collapse"] }],
    apply: (m, o) => m.madvise(o.proc, o.region, o.off, o.len, o.advice),
  },
  split: {
    usage: "split P R OFF LEN", summary: "split every huge page P maps in the range into order-0 pages (split_folio)",
    args: [P, R, OFF, LEN], apply: (m, o) => m.split(o.proc, o.region, o.off, o.len),
  },
  shrink: { usage: "shrink", summary: "run the deferred-split shrinker (and the huge zero page's)", args: [], apply: (m) => { m.shrink(); } },
  dump: { usage: "dump [LABEL]", summary: "emit the page and region records of every live process", args: [{ field: "label", kind: "label" }], apply: (m, o) => m.observe(o.label) },
  sysfs: {
    usage: "sysfs KNOB VALUE", summary: "set a THP knob (/sys/kernel/mm/transparent_hugepage/KNOB) from this line on",
    args: [{ field: "knob", kind: "knob" }], apply: (m, o) => m.sysfs(o.knob, o.value),
  },
  inspect: {
    usage: "inspect P R OFF", summary: "thpemu only: the raw struct page fields of the page mapped there",
    args: [P, R, OFF], apply: (m, o) => [m.inspect(o.proc, o.region, o.off)],
  },
};

export const OP_NAMES = Object.keys(OPERATIONS) as OpName[];

/** How many tokens an argument takes. */
function width(a: Arg): number { return a.kind === "knob" ? 2 : 1; }
/** [fewest, most] argument tokens of an operation. */
export function arity(spec: OpSpec<Op>): [number, number] {
  let min = 0, max = 0;
  for (const a of spec.args) {
    max += width(a);
    if (!((a.kind === "choice" && a.optional !== undefined) || a.kind === "label")) min += width(a);
  }
  return [min, max];
}

/** The normalized text of an operation: decimal bytes, explicit defaults (what the kernel runner reads). */
export function formatOp(op: Op): string {
  const spec = OPERATIONS[op.op] as OpSpec<Op>;
  const fields = op as unknown as Record<string, string | number | null>;
  const out: string[] = [op.op];
  for (const a of spec.args) {
    if (a.kind === "knob") { out.push(String(fields.knob), String(fields.value)); continue; }
    const v = fields[a.field];
    if (v === null || v === undefined) continue;
    out.push(String(v));
  }
  return out.join(" ");
}

/** The help lines: `usage  summary`, one per operation. */
export function operationsHelp(): string[] {
  const w = Math.max(...OP_NAMES.map((n) => OPERATIONS[n].usage.length));
  return OP_NAMES.map((n) => `  ${OPERATIONS[n].usage.padEnd(w)}  ${OPERATIONS[n].summary}`);
}

