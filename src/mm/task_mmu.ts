// The /proc view of a process's memory (fs/proc/task_mmu.c: pagemap, smaps;
// fs/proc/page.c: kpagecount): what a `dump` reports for every region of
// every live process, from the page tables and the mapcounts, in the
// records of docs/scenario-format.md.
import type { Kernel, Mm, Process, Vma } from "./types.js";
import { VM_READ, VM_WRITE, VM_HUGEPAGE, VM_NOHUGEPAGE } from "./types.js";
import { PAGE_SIZE, PMD_SIZE, _PAGE_ACCESSED, _PAGE_DIRTY, _PAGE_SPECIAL } from "../pgtable/x86_64.js";
import { pmdThpAllowed, mthpOrdersAllowed } from "../knobs.js";
import { walkPageRange } from "../pgtable/pagewalk.js";

/** One present 4 KiB page of a region (pagemap + kpagecount). */
export interface PageRecord {
  type: "page";
  dump: number;
  label: string | null;
  proc: string;
  region: string;
  page: number;
  folio: string;
  index: number;
  order: number;
  mapcount: number;
}

/** A region's totals (smaps Rss and AnonHugePages). */
export interface RegionRecord {
  type: "region";
  dump: number;
  label: string | null;
  proc: string;
  region: string;
  rss: number;
  pmdMapped: number;
  /** With the smaps option: the region's /proc/PID/smaps fields in kB (docs/scenario-format.md). */
  smaps?: SmapsRegion;
}

/** What a dump reports beyond the contract's page and region fields. */
export interface ObserveOptions {
  /** Every region record also carries `smaps` (the CLI's `--smaps`). */
  smaps?: boolean;
}

/** `x` (an integer) as an int32 when it is one, so that V8 keeps it a small integer. */
function asInt(x: number): number { return x <= 0x7fffffff ? x | 0 : x; }

/** The present PTEs of one table (their indices and PFNs), reused by every dump: no array per table. */
const present = new Int32Array(512);
const pfns = new Int32Array(512); // PFNs < 2^31 (128 GiB of memory at most)

/** Folio names F1, F2 … made once and kept: a dump of a million small folios makes no name strings again. */
const FOLIO_NAMES: string[] = [];
function nthFolioName(n: number): string {
  while (FOLIO_NAMES.length <= n) FOLIO_NAMES.push(`F${FOLIO_NAMES.length}`);
  return FOLIO_NAMES[n];
}

/**
 * The folio numbers of one dump: head PFN -> 1, 2, … in order of first
 * appearance. An open-addressing table over typed arrays (a dump of a
 * million small folios would grow a Map of a million entries).
 */
class FolioNumbers {
  private keys = new Int32Array(1024).fill(-1);
  private vals = new Int32Array(1024);
  private size = 0;
  /** The number of the folio at `head`, given the next one if it has none yet. */
  numberOf(head: number): number {
    let mask = this.keys.length - 1;
    let i = Math.imul(head, 0x9e3779b1) & mask;
    for (;;) {
      const k = this.keys[i];
      if (k === head) return this.vals[i];
      if (k === -1) break;
      i = (i + 1) & mask;
    }
    if (2 * (this.size + 1) > this.keys.length) {
      this.grow();
      mask = this.keys.length - 1;
      i = Math.imul(head, 0x9e3779b1) & mask;
      while (this.keys[i] !== -1) i = (i + 1) & mask;
    }
    this.keys[i] = head;
    this.vals[i] = ++this.size;
    return this.size;
  }
  private grow(): void {
    const { keys, vals } = this;
    this.keys = new Int32Array(keys.length * 2).fill(-1);
    this.vals = new Int32Array(keys.length * 2);
    const mask = this.keys.length - 1;
    for (let j = 0; j < keys.length; j++) {
      if (keys[j] === -1) continue;
      let i = Math.imul(keys[j], 0x9e3779b1) & mask;
      while (this.keys[i] !== -1) i = (i + 1) & mask;
      this.keys[i] = keys[j];
      this.vals[i] = vals[j];
    }
  }
}

function cmp(a: string, b: string): number { return a < b ? -1 : a > b ? 1 : 0; }

/** A page record's folio in an ObserveVisitor: F<n> for n ≥ 1, or one of these. */
export const FOLIO_ZERO = 0, FOLIO_HZERO = -1;

/** A folio number of ObserveVisitor.page as its record's name: F1, F2 …, `zero`, `hzero`. */
export function folioName(folio: number): string {
  return folio === FOLIO_ZERO ? "zero" : folio === FOLIO_HZERO ? "hzero" : nthFolioName(folio);
}

/**
 * What a dump's walk reports, record by record, in record order: a writer
 * that needs no record object per page (the CLI's JSONL path) implements
 * it; `observe` builds the objects with it.
 */
export interface ObserveVisitor {
  /** The page records that follow (until the region record) are of this process's region, in dump `dump` labelled `label`. */
  beginRegion(dump: number, label: string | null, proc: string, region: string): void;
  /** One page record of the current region (`folio`: n ≥ 1 for F<n>, FOLIO_ZERO, FOLIO_HZERO). */
  page(page: number, folio: number, index: number, order: number, mapcount: number): void;
  /** The current region's record, after its pages. */
  region(rec: RegionRecord): void;
}

/**
 * The page and region records of dump number `dump`: processes by name,
 * regions by name, pages ascending. Folios are named F1, F2 … in order of
 * first appearance within the dump; the zero pages are `zero` and `hzero`.
 * Mapcounts are read in one batch per PTE table (page_mapcount_batch).
 */
export function observe(k: Kernel, procs: Iterable<Process>, dump: number, label: string | null, opts: ObserveOptions = {}): (PageRecord | RegionRecord)[] {
  const out: (PageRecord | RegionRecord)[] = [];
  let proc = "", region = "";
  observeEach(k, procs, dump, label, opts, {
    beginRegion(_dump, _label, p, r) { proc = p; region = r; },
    page(page, folio, index, order, mapcount) {
      out.push({ type: "page", dump, label, proc, region, page, folio: folioName(folio), index, order, mapcount });
    },
    region(rec) { out.push(rec); },
  });
  return out;
}

/** `observe`, each record handed to `v` as it is found (no page record objects). */
export function observeEach(k: Kernel, procs: Iterable<Process>, dump: number, label: string | null, opts: ObserveOptions, v: ObserveVisitor): void {
  const names = new FolioNumbers();
  const core = k.core;
  const pt = k.pt;
  const live = [...procs].filter((p) => p.alive).sort((a, b) => cmp(a.name, b.name));
  for (const p of live) {
    for (const r of [...p.regions.values()].sort((a, b) => cmp(a.name, b.name))) {
      let rss = 0, pmdMapped = 0;
      v.beginRegion(dump, label, p.name, r.name);
      walkPageRange(pt, p.mm, r.start, r.start + r.size, {
        pmdEntry(pmd, _blk, s, e) {
          // small integers stay small integers (Smis: cheaper records, and their text is written faster)
          const first = asInt((s - r.start) / PAGE_SIZE);
          const n = ((e - s) / PAGE_SIZE) | 0;
          const i0 = ((s % PMD_SIZE) / PAGE_SIZE) | 0;
          if (pt.pmdTransHuge(pmd)) {
            const head = pt.pfn(pmd);
            if (head === core.hugeZeroPfn) {
              for (let i = 0; i < n; i++) v.page(first + i, FOLIO_HZERO, i0 + i, 9, 0);
              return true;
            }
            for (let i = 0; i < n; i++) core.scratchSet(i, head + i0 + i);
            core.e.page_mapcount_batch(n);
            const folio = names.numberOf(head);
            for (let i = 0; i < n; i++) v.page(first + i, folio, i0 + i, 9, core.scratchGetSigned(i));
            rss += n * PAGE_SIZE;
            if (n === 512) pmdMapped += PMD_SIZE;
            return true;
          }
          // a PTE table: the present pages (their indices in `present`), their mapcounts in one batch
          let np = 0;
          const base = pt.pteTable(pmd);
          for (let i = 0; i < n; i++) {
            const pte = pt.nth(base, i0 + i);
            if (!pt.ptePresent(pte)) continue;
            core.scratchSet(np, pt.pfn(pte));
            present[np++] = i;
          }
          for (let j = 0; j < np; j++) pfns[j] = core.scratchGet(j);
          core.e.page_mapcount_batch(np);
          for (let j = 0; j < np; j++) {
            const i = present[j], pfn = pfns[j];
            if (pfn === core.zeroPfn) { v.page(first + i, FOLIO_ZERO, 0, 0, 0); continue; }
            const head = core.headPfn(pfn);
            v.page(first + i, names.numberOf(head), pfn - head, core.folioOrder(head), core.scratchGetSigned(j));
            rss += PAGE_SIZE;
          }
          return true;
        },
      });
      const rec: RegionRecord = { type: "region", dump, label, proc: p.name, region: r.name, rss, pmdMapped };
      if (opts.smaps) rec.smaps = smapsRegion(k, p.mm, r.start, r.start + r.size);
      v.region(rec);
    }
  }
}

// ---- smaps (fs/proc/task_mmu.c show_smap, smap_gather_stats) ----------------------

/**
 * PSS_SHIFT: Pss is accumulated in bytes << 12, so that dividing a 4 KiB
 * page by its mapcount loses almost nothing before the sum is printed.
 */
export const PSS_SHIFT = 12;

/**
 * struct mem_size_stats: what smap_gather_stats accumulates for one VMA.
 * Sizes are in bytes; the pss* fields are fixed point (bytes << PSS_SHIFT).
 * Anonymous private memory only, so the file/shmem/hugetlb/swap/KSM/lazyfree
 * fields stay 0 (they are here so a formatter prints every line the kernel
 * prints).
 */
export interface MemSizeStats {
  resident: number;
  shared_clean: number;
  shared_dirty: number;
  private_clean: number;
  private_dirty: number;
  referenced: number;
  anonymous: number;
  lazyfree: number;
  anonymous_thp: number;
  shmem_thp: number;
  file_thp: number;
  swap: number;
  shared_hugetlb: number;
  private_hugetlb: number;
  ksm: number;
  pss: number;
  pss_anon: number;
  pss_file: number;
  pss_shmem: number;
  pss_dirty: number;
  pss_locked: number;
  swap_pss: number;
}

/** A zeroed mem_size_stats. */
export function emptyMemSizeStats(): MemSizeStats {
  return {
    resident: 0, shared_clean: 0, shared_dirty: 0, private_clean: 0, private_dirty: 0, referenced: 0,
    anonymous: 0, lazyfree: 0, anonymous_thp: 0, shmem_thp: 0, file_thp: 0, swap: 0,
    shared_hugetlb: 0, private_hugetlb: 0, ksm: 0,
    pss: 0, pss_anon: 0, pss_file: 0, pss_shmem: 0, pss_dirty: 0, pss_locked: 0, swap_pss: 0,
  };
}

/**
 * smaps_page_accumulate: `size` bytes of an anonymous folio with `pss`
 * (fixed point) as its share; dirty when the entry or the folio is dirty.
 */
function smapsPageAccumulate(mss: MemSizeStats, size: number, pss: number, dirty: boolean, priv: boolean): void {
  mss.pss += pss;
  mss.pss_anon += pss; // folio_test_anon: every folio here is anonymous
  if (dirty) {
    mss.pss_dirty += pss;
    if (priv) mss.private_dirty += size; else mss.shared_dirty += size;
  } else if (priv) mss.private_clean += size;
  else mss.shared_clean += size;
}

/** A whole 4 KiB page's Pss in fixed point. */
const PAGE_PSS = PAGE_SIZE * 2 ** PSS_SHIFT;

/**
 * smaps_account for `nr` pages starting at `pfn` of the folio headed by
 * `head` (nr = 512 for a PMD mapping, 1 for a PTE), whose mapcounts
 * page_mapcount_batch left in scratch slots [slot0, slot0 + nr).
 * - folio_ref_count == 1: mapped exactly once (any PTE mapping of a subpage
 *   would raise it), so the whole size is private with Pss = size.
 * - else, per page: the mapcount the kernel of the scheme reads —
 *   page_mapcount (4.5 DoubleMap, 6.2), folio_precise_page_mapcount
 *   (6.11+ with CONFIG_PAGE_MAPCOUNT), or, CONFIG_NO_PAGE_MAPCOUNT (6.15+),
 *   folio_average_page_mapcount with "private" = !folio_maybe_mapped_shared
 *   for the whole folio. Mapcount ≥ 2 divides the page's Pss by it.
 */
function smapsAccount(k: Kernel, mss: MemSizeStats, head: number, nr: number, slot0: number, young: boolean, dirtyEntry: boolean,
  shared: Map<number, boolean>): void {
  const core = k.core;
  const size = nr * PAGE_SIZE;
  mss.anonymous += size; // folio_test_anon; swap-backed, so never lazyfree
  mss.resident += size;
  if (young || core.testFlag(head, "referenced")) mss.referenced += size;
  const dirty = dirtyEntry || core.testFlag(head, "dirty");
  if (core.refcount(head) === 1) {
    smapsPageAccumulate(mss, size, size * 2 ** PSS_SHIFT, dirty, true);
    return;
  }
  if (core.scheme === "nopagemapcount") {
    // folio_average_page_mapcount (what page_mapcount reports here) and folio_maybe_mapped_shared
    const mapcount = core.scratchGetSigned(slot0);
    let maybeShared = shared.get(head); // once per folio, not per PTE
    if (maybeShared === undefined) shared.set(head, (maybeShared = folioMaybeMappedShared(k, head)));
    const exclusive = !maybeShared;
    const pss = mapcount >= 2 ? Math.floor(PAGE_PSS / mapcount) : PAGE_PSS;
    smapsPageAccumulate(mss, size, pss * nr, dirty, exclusive);
    return;
  }
  for (let i = 0; i < nr; i++) {
    const mapcount = core.scratchGetSigned(slot0 + i);
    const pss = mapcount >= 2 ? Math.floor(PAGE_PSS / mapcount) : PAGE_PSS;
    smapsPageAccumulate(mss, PAGE_SIZE, pss, dirty, mapcount < 2);
  }
}

/**
 * folio_maybe_mapped_shared (6.15+): a small folio is shared when mapped
 * more than once; a large one is exclusive when mapped at most once, else
 * the MM-owner slots' "maybe mapped shared" bit decides.
 */
function folioMaybeMappedShared(k: Kernel, head: number): boolean {
  const core = k.core;
  const mapcount = core.e.total_mapcount(head);
  if (core.folioOrder(head) === 0) return mapcount > 1;
  if (mapcount <= 1) return false;
  return core.mmOwners(head).maybeMappedShared;
}

/**
 * smap_gather_stats for one VMA: walk_page_range over [vma.start, vma.end)
 * with smaps_pte_range's callbacks. A huge PMD is smaps_pmd_entry (the
 * huge zero page is no normal page: vm_normal_page_pmd returns NULL, so it
 * counts nowhere; an anonymous THP adds 2 MiB to AnonHugePages); a PTE is
 * smaps_pte_entry (a special PTE, the zero page, counts nowhere). PROT_NONE
 * entries are present and count. Mapcounts are read in one batch per PMD or
 * PTE table (page_mapcount_batch).
 */
export function smapsVma(k: Kernel, mm: Mm, vma: Vma): MemSizeStats {
  const mss = emptyMemSizeStats();
  const core = k.core;
  const pt = k.pt;
  const shared = new Map<number, boolean>(); // folio_maybe_mapped_shared per head (nopagemapcount)
  walkPageRange(pt, mm, vma.start, vma.end, {
    pmdEntry(pmd, _blk, s, e) {
      const n = (e - s) / PAGE_SIZE;
      const i0 = (s % PMD_SIZE) / PAGE_SIZE;
      if (pt.pmdTransHuge(pmd)) {
        // smaps_pmd_entry (a VMA boundary never cuts a huge PMD: splitVmaAt splits it first)
        const head = pt.pfn(pmd);
        if (head === core.hugeZeroPfn) return true;
        mss.anonymous_thp += PMD_SIZE;
        const lo = pt.lo(pmd);
        if (core.refcount(head) !== 1) {
          for (let i = 0; i < 512; i++) core.scratchSet(i, head + i);
          core.e.page_mapcount_batch(512);
        }
        smapsAccount(k, mss, head, 512, 0, (lo & _PAGE_ACCESSED) !== 0, (lo & _PAGE_DIRTY) !== 0, shared);
        return true;
      }
      // smaps_pte_range: the normal pages of this table, their mapcounts in one batch
      const base = pt.pteTable(pmd);
      const slots: number[] = [];
      for (let i = 0; i < n; i++) {
        const pte = pt.nth(base, i0 + i);
        if (!pt.ptePresent(pte)) continue;
        const lo = pt.lo(pte);
        const pfn = pt.pfn(pte);
        if ((lo & _PAGE_SPECIAL) !== 0 || pfn === core.zeroPfn) continue; // vm_normal_page: NULL
        core.scratchSet(slots.length, pfn);
        slots.push(pte);
      }
      core.e.page_mapcount_batch(slots.length);
      for (let j = 0; j < slots.length; j++) {
        const lo = pt.lo(slots[j]);
        const head = core.headPfn(pt.pfn(slots[j]));
        smapsAccount(k, mss, head, 1, j, (lo & _PAGE_ACCESSED) !== 0, (lo & _PAGE_DIRTY) !== 0, shared);
      }
      return true;
    },
  });
  return mss;
}

/** The lines of one VMA's smaps entry, in kB as show_smap prints them (THPeligible: 0 or 1). */
export interface SmapsFields {
  Size: number;
  KernelPageSize: number;
  MMUPageSize: number;
  Rss: number;
  Pss: number;
  Pss_Dirty: number;
  Shared_Clean: number;
  Shared_Dirty: number;
  Private_Clean: number;
  Private_Dirty: number;
  Referenced: number;
  Anonymous: number;
  KSM: number;
  LazyFree: number;
  AnonHugePages: number;
  ShmemPmdMapped: number;
  FilePmdMapped: number;
  Shared_Hugetlb: number;
  Private_Hugetlb: number;
  Swap: number;
  SwapPss: number;
  Locked: number;
  THPeligible: number;
}

/** One VMA of /proc/PID/smaps (Machine.smaps): its range, its maps-line permissions, its fields. */
export interface SmapsVma {
  start: number;
  end: number;
  /** The maps line's permissions: `rw-p`, `r--p`, `---p` (private anonymous). */
  perms: string;
  /** The scenario region this VMA lies in (null: none). */
  region: string | null;
  /** The lines, in kB as printed (the order of __show_smap). */
  fields: SmapsFields;
  /** The raw struct mem_size_stats (bytes; pss* fixed point, << PSS_SHIFT). */
  mss: MemSizeStats;
}

/** The smaps keys a `region` record carries (docs/scenario-format.md): no Referenced, it varies on a real kernel. */
export const SMAPS_REGION_KEYS = [
  "Rss", "Pss", "Pss_Dirty", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty", "Anonymous", "AnonHugePages",
] as const;
export type SmapsRegionKey = (typeof SMAPS_REGION_KEYS)[number];
/** A region's smaps: each VMA's values in kB as printed, summed over the VMAs inside the region. */
export type SmapsRegion = Record<SmapsRegionKey, number>;

/** A byte count as show_smap prints it: kB, truncated. */
export const kB = (bytes: number) => Math.floor(bytes / 1024);
/** (x >> PSS_SHIFT) >> 10: a fixed-point Pss printed in kB. */
export const pssKB = (pss: number) => Math.floor(pss / 2 ** (PSS_SHIFT + 10));

/**
 * thp_vma_allowable_orders(vma, TVA_SMAPS | TVA_ENFORCE_SYSFS, THP_ORDERS_ALL)
 * for an anonymous VMA: some order the knobs allow for it (PMD or mTHP) whose
 * aligned block ending at or below vm_end fits in the VMA
 * (thp_vma_suitable_order).
 */
function thpEligible(k: Kernel, vma: Vma): boolean {
  const hg = (vma.flags & VM_HUGEPAGE) !== 0, nh = (vma.flags & VM_NOHUGEPAGE) !== 0;
  const orders = [...(pmdThpAllowed(k.knobs, hg, nh) ? [9] : []), ...mthpOrdersAllowed(k.knobs, hg, nh)];
  return orders.some((o) => {
    const size = PAGE_SIZE * 2 ** o;
    const haddr = Math.floor((vma.end - size) / size) * size;
    return haddr >= vma.start && haddr + size <= vma.end;
  });
}

/** __show_smap (and show_smap's Size/KernelPageSize/MMUPageSize/THPeligible) of one VMA, in kB. */
export function smapsFields(k: Kernel, vma: Vma, mss: MemSizeStats): SmapsFields {
  return {
    Size: kB(vma.end - vma.start),
    KernelPageSize: 4,
    MMUPageSize: 4,
    Rss: kB(mss.resident),
    Pss: pssKB(mss.pss),
    Pss_Dirty: pssKB(mss.pss_dirty),
    Shared_Clean: kB(mss.shared_clean),
    Shared_Dirty: kB(mss.shared_dirty),
    Private_Clean: kB(mss.private_clean),
    Private_Dirty: kB(mss.private_dirty),
    Referenced: kB(mss.referenced),
    Anonymous: kB(mss.anonymous),
    KSM: kB(mss.ksm),
    LazyFree: kB(mss.lazyfree),
    AnonHugePages: kB(mss.anonymous_thp),
    ShmemPmdMapped: kB(mss.shmem_thp),
    FilePmdMapped: kB(mss.file_thp),
    Shared_Hugetlb: kB(mss.shared_hugetlb),
    Private_Hugetlb: kB(mss.private_hugetlb),
    Swap: kB(mss.swap),
    SwapPss: pssKB(mss.swap_pss),
    Locked: pssKB(mss.pss_locked),
    THPeligible: thpEligible(k, vma) ? 1 : 0,
  };
}

/** show_map_vma's permission string of a private anonymous VMA (maps and smaps lines). */
export function vmaPerms(vma: Vma): string {
  return `${vma.flags & VM_READ ? "r" : "-"}${vma.flags & VM_WRITE ? "w" : "-"}-p`;
}

/** /proc/PID/smaps of a process: every VMA in address order (show_smap for each). */
export function smaps(k: Kernel, p: Process): SmapsVma[] {
  const regions = [...p.regions.values()];
  return uncounted(k, () => p.mm.vmas.map((vma) => {
    const mss = smapsVma(k, p.mm, vma);
    const r = regions.find((r) => r.start <= vma.start && vma.end <= r.start + r.size);
    return { start: vma.start, end: vma.end, perms: vmaPerms(vma), region: r ? r.name : null, fields: smapsFields(k, vma, mss), mss };
  }));
}

/** Run `fn` without charging its mapcount reads to the rmap cost counters (`--stats` is the scenario's work, smaps is an observer's). */
function uncounted<T>(k: Kernel, fn: () => T): T {
  const saved = k.core.saveCosts();
  try { return fn(); } finally { k.core.restoreCosts(saved); }
}

/** A region's smaps record: the VMAs inside [start, end), each truncated to kB as printed, then summed. */
export function smapsRegion(k: Kernel, mm: Mm, start: number, end: number): SmapsRegion {
  const out = Object.fromEntries(SMAPS_REGION_KEYS.map((key) => [key, 0])) as SmapsRegion;
  uncounted(k, () => {
    for (const vma of mm.vmas) {
      if (vma.start < start || vma.end > end) continue;
      const f = smapsFields(k, vma, smapsVma(k, mm, vma));
      for (const key of SMAPS_REGION_KEYS) out[key] += f[key];
    }
  });
  return out;
}
