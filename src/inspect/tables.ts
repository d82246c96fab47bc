// Read-only views of a machine for viewers (the web page): a process's page
// tables as a tree PGD -> PUD -> PMD -> PTE with every entry decoded, and
// the struct page fields of one frame. Pure functions over machine.k.pt and
// machine.core (like src/check/invariants.ts); nothing here changes state or
// calls an operation.
import type { Machine } from "../machine.js";
import type { RawPage } from "../core/frames.js";
import { UserError } from "../errors.js";
import type { Process } from "../mm/types.js";
import {
  PAGE_SIZE, PMD_SIZE, PUD_SIZE, PGDIR_SIZE, _PAGE_SPECIAL,
  decodeEntry, entryHex, ptePresent, pmdTransHuge,
} from "../pgtable/x86_64.js";
import { walkPageRange, WALK_ALL } from "../pgtable/pagewalk.js";

export type Level = "pgd" | "pud" | "pmd" | "pte";

/**
 * What an entry points at: a lower-level `table`, a `thp` (a huge PMD), a
 * `page` (a PTE to a 4 KiB page, possibly a subpage of a THP), the 4 KiB
 * `zero` page, the `hzero` huge zero page.
 */
export type EntryKind = "table" | "thp" | "hzero" | "page" | "zero";

export interface TableEntry {
  level: Level;
  /** index in its table, 0..511 */
  index: number;
  /** first virtual address the entry covers */
  va: number;
  /** the 64-bit entry as two 32-bit halves, and as hex */
  lo: number;
  hi: number;
  hex: string;
  /** the entry's bits by their Linux names (P RW US A D PSE NX SPECIAL PROTNONE …) */
  bits: string[];
  /** the PFN in bits 12..51 */
  pfn: number;
  /** present in the kernel's sense (P, or PROT_NONE) */
  present: boolean;
  kind: EntryKind;
  /** a huge PMD: the page table deposited for its split (pgtable_trans_huge_deposit) */
  deposited?: number;
  /** a `table` entry: the table it points at */
  child?: TableNode;
}

export interface TableNode {
  level: Level;
  /** the frame that holds this table */
  pfn: number;
  /** first virtual address the table covers */
  va: number;
  /** the non-empty entries, by index */
  entries: TableEntry[];
}

const SPAN: Record<Level, number> = { pgd: PGDIR_SIZE, pud: PUD_SIZE, pmd: PMD_SIZE, pte: PAGE_SIZE };
const NEXT: Record<Level, Level | null> = { pgd: "pud", pud: "pmd", pmd: "pte", pte: null };

function processOf(m: Machine, proc: string | Process): Process {
  if (typeof proc !== "string") return proc;
  const p = m.procs.get(proc);
  if (!p) throw new UserError(`unknown process '${proc}'`);
  return p;
}

/**
 * The page tables of a process as a tree rooted at its PGD, with only the
 * non-empty entries (one walk_page_range over the whole address space). An
 * exited process has no page tables: null.
 */
export function pageTableTree(m: Machine, proc: string | Process): TableNode | null {
  const p = processOf(m, proc);
  if (!p.alive) return null;
  const pt = m.k.pt;
  const core = m.k.core;
  const root: TableNode = { level: "pgd", pfn: p.mm.pgd, va: 0, entries: [] };
  const current: Record<Level, TableNode> = { pgd: root, pud: root, pmd: root, pte: root };
  const add = (level: Level, slot: number, va: number): TableEntry => {
    const lo = pt.lo(slot) >>> 0, hi = pt.hi(slot) >>> 0;
    const { pfn, bits } = decodeEntry(lo, hi, level);
    const e: TableEntry = {
      level, index: Math.floor(va / SPAN[level]) % 512, va, lo, hi, hex: entryHex(lo, hi), bits, pfn,
      present: ptePresent(lo), kind: "table",
    };
    current[level].entries.push(e);
    return e;
  };
  const table = (e: TableEntry) => {
    const child: TableNode = { level: NEXT[e.level]!, pfn: e.pfn, va: e.va, entries: [] };
    e.child = child;
    current[child.level] = child;
  };
  walkPageRange(pt, p.mm, 0, WALK_ALL, {
    pgdEntry(slot, va) { table(add("pgd", slot, va)); },
    pudEntry(slot, va) { table(add("pud", slot, va)); },
    pmdEntry(slot, blk) {
      const e = add("pmd", slot, blk * PMD_SIZE);
      if (!pmdTransHuge(e.lo)) { table(e); return false; }
      e.kind = e.pfn === core.hugeZeroPfn ? "hzero" : "thp";
      const dep = m.k.deposits.get(slot);
      if (dep !== undefined) e.deposited = dep;
      return true;
    },
    pteEntry(slot, va) {
      const e = add("pte", slot, va);
      e.kind = (e.lo & _PAGE_SPECIAL) !== 0 || e.pfn === core.zeroPfn ? "zero" : "page";
    },
  });
  return root;
}

/**
 * Consecutive PTEs that differ only in a PFN one higher (or map the same
 * zero page): [first, last] index pairs into `entries`, for compact display.
 */
export function pteRuns(entries: readonly TableEntry[]): [number, number][] {
  const runs: [number, number][] = [];
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    const run = runs[runs.length - 1];
    if (run) {
      const p = entries[run[1]];
      const same = p.index + 1 === e.index && p.kind === e.kind && p.bits.join() === e.bits.join() &&
        (e.kind === "zero" ? p.pfn === e.pfn : p.pfn + 1 === e.pfn);
      if (same) { run[1] = i; continue; }
    }
    runs.push([i, i]);
  }
  return runs;
}

/**
 * What a frame is used for, as the frame grid shows it. `uninit`: free, and
 * its struct page was never initialised (deferred struct page init has not
 * reached its section; it reads as all zeros).
 */
export type FrameKind = "free" | "uninit" | "pagetable" | "zero" | "hzero" | "head" | "tail" | "page";

/** The classification of one frame (cheap: raw field reads, no call into WASM). */
export function frameKind(m: Machine, pfn: number): FrameKind {
  const core = m.k.core;
  if (!core.initialised(pfn)) return "uninit";
  if (pfn === core.zeroPfn) return "zero";
  const hz = core.hugeZeroPfn;
  if (hz !== core.NIL && pfn >= hz && pfn < hz + 512) return "hzero";
  const head = core.headPfn(pfn);
  if (head !== pfn) return "tail";
  if (core.testFlag(pfn, "pgtable")) return "pagetable";
  if (core.testFlag(pfn, "head")) return "head";
  if (core.refcount(pfn) !== 0) return "page";
  return "free";
}

/** One past the highest frame that is not free (0 when all are free). */
export function usedFrameLimit(m: Machine): number {
  return m.k.core.usedFrameLimit();
}

/** One mapping of a frame by a live process. */
export interface FrameMapping {
  proc: string;
  /** the region and the offset in it, when the address is inside a region */
  region: string | null;
  off: number;
  va: number;
  how: "PMD" | "PTE";
}

/** The folio-wide counters of a compound folio, by the names of the machine's scheme. */
export interface FolioCounters {
  head: number;
  order: number;
  scheme: string;
  _refcount: number;
  total_mapcount: number;
  /** raw compound_mapcount (doublemap, naive, subpages) or _entire_mapcount (large, nopagemapcount): PMD maps - 1 */
  compound_mapcount: number;
  compound_mapcount_name: "compound_mapcount" | "_entire_mapcount";
  /** null when the scheme has no such flag */
  PG_double_map: boolean | null;
  deferred_split_queued: boolean;
  /** PG_partially_mapped (6.10+): the THP lost a mapping of some subpage; the shrinker splits it */
  partially_mapped: boolean;
}

export function folioCounters(m: Machine, head: number): FolioCounters {
  const core = m.k.core;
  const scheme = m.scheme;
  const old = scheme === "doublemap" || scheme === "naive" || scheme === "subpages";
  return {
    head, order: core.folioOrder(head), scheme,
    _refcount: core.refcount(head),
    total_mapcount: core.e.total_mapcount(head),
    compound_mapcount: core.field(head + 1, "PAGE_COMPOUND_MAPCOUNT"),
    compound_mapcount_name: old ? "compound_mapcount" : "_entire_mapcount",
    PG_double_map: scheme === "doublemap" ? core.testFlag(head + 1, "double_map") : null,
    deferred_split_queued: head !== core.hugeZeroPfn && core.e.thp_is_queued(head) !== 0,
    partially_mapped: head !== core.hugeZeroPfn && core.e.folio_test_partially_mapped(head) !== 0,
  };
}

/** The struct page of one frame: raw fields, and what `inspect` reports for it. */
export interface FrameRecord {
  pfn: number;
  kind: FrameKind;
  head_pfn: number;
  order: number;
  /** raw words of this struct page, and its flags by name */
  raw: RawPage & { flags_decoded: string[] };
  /**
   * The fields `inspect` reports for this frame: Machine.inspect's record at
   * the frame's first mapping (so exactly the CLI's fields, under the
   * scheme's names), or, for a frame nobody maps, the same core reads made
   * directly. Without proc, region and page.
   */
  inspect: Record<string, unknown>;
  /** where live processes map this frame */
  mappedAt: FrameMapping[];
}

/**
 * The struct page fields of frame `pfn`. `trees`: the live processes' page
 * tables when the caller has already read them (pageTableTree), else read here.
 */
export function frameRecord(m: Machine, pfn: number, trees?: ReadonlyMap<Process, TableNode>): FrameRecord {
  const core = m.k.core;
  if (!Number.isInteger(pfn) || pfn < 0 || pfn >= core.frames) throw new UserError(`no frame ${pfn}`);
  const kind = frameKind(m, pfn);
  const head = core.headPfn(pfn);
  const order = core.folioOrder(head);
  const { flags, ...words } = core.rawPage(pfn);
  const mapped = kind === "head" || kind === "tail" || kind === "page" || kind === "zero" || kind === "hzero";
  const mappedAt = mapped ? mappingsOf(m, pfn, trees) : [];
  let inspect: Record<string, unknown>;
  const at = mappedAt.find((x) => x.region !== null);
  if (at) {
    const { type: _t, proc: _p, region: _r, page: _g, ...rest } = m.inspect(at.proc, at.region!, at.off);
    inspect = rest;
  } else {
    const compound = order > 0;
    const c = compound ? folioCounters(m, head) : null;
    inspect = {
      pfn, head_pfn: head, order,
      _refcount: core.refcount(head),
      _mapcount: core.mapcountRaw(pfn),
      [c?.compound_mapcount_name ?? "compound_mapcount"]: c ? c.compound_mapcount : null,
      PG_double_map: c ? c.PG_double_map : null,
      page_mapcount: mapped ? core.e.page_mapcount(pfn) : null,
      total_mapcount: mapped ? core.e.total_mapcount(pfn) : null,
      PG_head: core.testFlag(pfn, "head"),
      deferred_split_queued: c && kind !== "hzero" ? c.deferred_split_queued : null,
      partially_mapped: c && kind !== "hzero" ? c.partially_mapped : null,
    };
  }
  return {
    pfn, kind, head_pfn: head, order,
    raw: { flags, flags_decoded: core.flagNames(flags), ...words },
    inspect,
    mappedAt,
  };
}

/** Every mapping of `pfn` in the live processes' page tables (a reverse walk, for display). */
export function mappingsOf(m: Machine, pfn: number, trees?: ReadonlyMap<Process, TableNode>): FrameMapping[] {
  const out: FrameMapping[] = [];
  const core = m.k.core;
  const head = core.headPfn(pfn);
  for (const p of m.liveProcesses()) {
    const tree = trees?.get(p) ?? pageTableTree(m, p);
    if (!tree) continue;
    const regions = [...p.regions.values()];
    const add = (va: number, how: "PMD" | "PTE") => {
      const r = regions.find((r) => va >= r.start && va < r.start + r.size);
      out.push({ proc: p.name, region: r ? r.name : null, off: r ? va - r.start : 0, va, how });
    };
    for (const g of tree.entries) for (const u of g.child?.entries ?? []) for (const d of u.child?.entries ?? []) {
      if (d.kind === "thp" || d.kind === "hzero") {
        if (d.pfn === head && pfn - head < 512) add(d.va + (pfn - head) * PAGE_SIZE, "PMD");
        continue;
      }
      for (const t of d.child?.entries ?? []) if (t.pfn === pfn && t.present) add(t.va, "PTE");
    }
  }
  return out;
}

/** A mapping as `proc region +0xOFF (PMD|PTE)`. */
export function formatMapping(x: FrameMapping): string {
  return x.region !== null ? `${x.proc} ${x.region} +0x${x.off.toString(16)} (${x.how})` : `${x.proc} 0x${x.va.toString(16)} (${x.how})`;
}
