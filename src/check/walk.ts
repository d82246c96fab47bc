// The checker's reverse walk: every page table of every live process, read
// once, into counts of who maps what (PTE mappings per page, PMD mappings per
// THP), the page-table pages seen, and the writable entries for the COW
// rules. Structural faults of the tables themselves are reported on the way.
import type { Kernel, Process, Vma } from "../mm/types.js";
import { PMD_SIZE } from "../pgtable/x86_64.js";
import { walkPageRange, WALK_ALL } from "../pgtable/pagewalk.js";

/** What the page tables say. */
export interface Mappings {
  /** pfn -> PTE mappings */
  pteMaps: Map<number, number>;
  /** head pfn -> PMD mappings (the huge zero page left out) */
  pmdMaps: Map<number, number>;
  /** every page-table page seen (live or deposited) */
  tables: Set<number>;
  /** writable PTEs: [pfn, where] (for the COW check) */
  writable: [number, string][];
  /** writable huge PMDs: [head pfn, where] */
  writableHuge: [number, string][];
  /** PMDs mapping the huge zero page */
  hzeroPmds: number;
}

const hexva = (va: number) => `0x${va.toString(16)}`;

/** Walk every live process's page tables; `say` gets each structural fault. */
export function reverseWalk(k: Kernel, procs: Iterable<Process>, say: (s: string) => void): Mappings {
  const core = k.core;
  const pt = k.pt;
  const w: Mappings = { pteMaps: new Map(), pmdMaps: new Map(), tables: new Set(), writable: [], writableHuge: [], hzeroPmds: 0 };
  const hugeSlots = new Set<number>(); // PMD slots holding a huge PMD (they own a deposit)
  const inc = (mp: Map<number, number>, key: number) => mp.set(key, (mp.get(key) ?? 0) + 1);
  for (const p of procs) {
    const mm = p.mm;
    let count = 0;
    const table = (pfn: number, what: string) => {
      if (w.tables.has(pfn)) say(`page-table page ${pfn} (${what}) is used twice`);
      w.tables.add(pfn);
      if (!core.testFlag(pfn, "pgtable")) say(`${what} table ${pfn} lacks PageTable`);
      count++;
    };
    const inVma = (va: number) => mm.vmas.some((v) => v.start <= va && va < v.end);
    table(mm.pgd, `${p.name} PGD`);
    let vma: Vma | undefined; // the VMA of the current 2 MiB block
    walkPageRange(pt, mm, 0, WALK_ALL, {
      pgdEntry(slot, va) {
        if (va >= 2 ** 47) say(`${p.name}: PGD entry ${va / 2 ** 39} maps kernel space`);
        table(pt.pfn(slot), `${p.name} PUD`);
      },
      pudEntry(slot) { table(pt.pfn(slot), `${p.name} PMD`); },
      pmdEntry(slot, blk) {
        const va = blk * PMD_SIZE;
        vma = mm.vmas.find((v) => v.start < va + PMD_SIZE && v.end > va);
        if (!vma) say(`${p.name}: PMD at ${hexva(va)} outside every VMA`);
        if (!pt.pmdTransHuge(slot)) {
          if (k.deposits.has(slot)) say(`${p.name}: PTE-table PMD at ${hexva(va)} also has a deposit`);
          table(pt.pfn(slot), `${p.name} PTE`);
          return false;
        }
        const head = pt.pfn(slot);
        const dep = k.deposits.get(slot);
        if (dep === undefined) say(`${p.name}: huge PMD at ${hexva(va)} has no deposited table`);
        else table(dep, `${p.name} deposited`);
        if (vma && (vma.start > va || vma.end < va + PMD_SIZE)) say(`${p.name}: huge PMD at ${hexva(va)} crosses a VMA edge`);
        hugeSlots.add(slot);
        if (head === core.hugeZeroPfn) {
          w.hzeroPmds++;
          if (pt.writable(slot)) say(`${p.name}: writable huge-zero PMD at ${hexva(va)}`);
        } else {
          inc(w.pmdMaps, head);
          if (pt.writable(slot)) w.writableHuge.push([head, `${p.name} ${hexva(va)}`]);
        }
        return true;
      },
      pteEntry(slot, va) {
        if ((!vma || va < vma.start || va >= vma.end) && !inVma(va)) say(`${p.name}: PTE at ${hexva(va)} outside every VMA`);
        if (!pt.ptePresent(slot)) { say(`${p.name}: non-present PTE at ${hexva(va)}`); return; }
        const pfn = pt.pfn(slot);
        if (pt.pteSpecial(slot)) {
          if (pfn !== core.zeroPfn) say(`${p.name}: special PTE at ${hexva(va)} not to the zero page`);
          return;
        }
        if (pfn === core.zeroPfn) say(`${p.name}: zero page mapped without _PAGE_SPECIAL`);
        inc(w.pteMaps, pfn);
        if (pt.writable(slot)) w.writable.push([pfn, `${p.name} ${hexva(va)}`]);
      },
    });
    if (count !== mm.nrTables) say(`${p.name}: owns ${mm.nrTables} page-table pages, the walk found ${count}`);
  }
  // every deposited table belongs to a huge PMD of a live process
  for (const [slot, table] of k.deposits) if (!hugeSlots.has(slot)) say(`stray deposit (table ${table}) at slot ${slot}`);
  return w;
}

