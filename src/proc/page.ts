// fs/proc/page.c: /proc/kpageflags and /proc/kpagecount, one u64 per PFN
// (little-endian, as on x86-64), PFN_OFFSET + the emulated memory long.
//
// kpageflags follows stable_page_flags() for what the emulator knows about a
// frame; docs/procfs.md lists the bits and which ones are left out and why
// (PG_idle, which the kernel's own runs do not agree on, is never set here).
// PFNs start at PFN_OFFSET: below it is a hole (KPF_NOPAGE).
import type { Kernel } from "../mm/types.js";

/** include/uapi/linux/kernel-page-flags.h (and the kernel-hacker bits from 32). */
export const KPF = {
  LOCKED: 0, ERROR: 1, REFERENCED: 2, UPTODATE: 3, DIRTY: 4, LRU: 5, ACTIVE: 6, SLAB: 7, WRITEBACK: 8, RECLAIM: 9,
  BUDDY: 10, MMAP: 11, ANON: 12, SWAPCACHE: 13, SWAPBACKED: 14, COMPOUND_HEAD: 15, COMPOUND_TAIL: 16, HUGE: 17,
  UNEVICTABLE: 18, HWPOISON: 19, NOPAGE: 20, KSM: 21, THP: 22, OFFLINE: 23, ZERO_PAGE: 24, IDLE: 25, PGTABLE: 26,
  // "kernel hacking" bits (page-types -r shows them)
  RESERVED: 32, MLOCKED: 33, OWNER_2: 34, PRIVATE: 35, PRIVATE_2: 36, OWNER_PRIVATE: 37, ARCH: 38,
} as const;
export type KpfName = keyof typeof KPF;

/**
 * Where emulated frame 0 sits in the export: frame F is PFN F + PFN_OFFSET.
 * PFN 0 cannot be shown (pagemap users such as page-types read PFN 0 as "no
 * page", and the emulator's zero page is frame 0), so physical memory
 * starts at 1 MiB, as on a PC whose first MiB belongs to the firmware; the
 * PFNs below are a hole (KPF_NOPAGE, kpagecount 0).
 */
export const PFN_OFFSET = 256;

/** _mapcount of the first page of a free buddy block (PageBuddy, PAGE_BUDDY_MAPCOUNT_VALUE). */
const PAGE_BUDDY_MAPCOUNT = -128;
/** PAGE_MAPPING_ANON: the low bit of page->mapping of an anonymous folio. */
const PAGE_MAPPING_ANON = 1;

/** The two files as u64 arrays, lo/hi 32-bit words (little-endian u64 once viewed as bytes), PFN_OFFSET + frames long. */
export interface KpageFiles {
  /** /proc/kpageflags: 2 words per PFN. */
  flags: Uint32Array;
  /** /proc/kpagecount: 2 words per PFN (the high words stay 0). */
  count: Uint32Array;
}

/**
 * stable_page_flags() and folio_precise_page_mapcount() (kpagecount_read)
 * of every frame, in one pass over mem_map: a free buddy block is skipped
 * whole, a folio is handled once (one page_mapcount_batch call for its
 * pages), so there is no per-subpage call into WASM.
 */
export function kpageFiles(k: Kernel): KpageFiles {
  const core = k.core;
  const n = core.frames;
  // the file's words from PFN_OFFSET on are the frames; before it the hole
  const allFlags = new Uint32Array(2 * (n + PFN_OFFSET));
  const allCount = new Uint32Array(2 * (n + PFN_OFFSET));
  for (let i = 0; i < PFN_OFFSET; i++) allFlags[2 * i] = 1 << KPF.NOPAGE;
  const flags = allFlags.subarray(2 * PFN_OFFSET);
  const count = allCount.subarray(2 * PFN_OFFSET);
  const set = (pfn: number, bit: number) => {
    if (bit < 32) flags[2 * pfn] |= 1 << bit;
    else flags[2 * pfn + 1] |= 1 << (bit - 32);
  };
  const PG = {
    head: 1 << core.flagBit("head"), uptodate: 1 << core.flagBit("uptodate"), dirty: 1 << core.flagBit("dirty"),
    lru: 1 << core.flagBit("lru"), referenced: 1 << core.flagBit("referenced"), swapbacked: 1 << core.flagBit("swapbacked"),
    anonExclusive: 1 << core.flagBit("anon_exclusive"), pgtable: 1 << core.flagBit("pgtable"),
  };
  const zero = core.zeroPfn, hzero = core.hugeZeroPfn;
  const slots = core.scratchSlots;
  for (let pfn = 0; pfn < n;) {
    // never initialised (deferred struct page init has not reached it): a
    // free frame, which the kernel, its init long done, shows in a buddy block
    if (!core.initialised(pfn)) { flags[2 * pfn] = 1 << KPF.BUDDY; pfn++; continue; }
    // PageBuddy on the block's first page; every page of a free block is
    // KPF_BUDDY (page_count == 0 && is_free_buddy_page)
    if (core.mapcountRaw(pfn) === PAGE_BUDDY_MAPCOUNT) {
      const nr = 2 ** core.field(pfn, "PAGE_PRIVATE");
      for (let i = 0; i < nr && pfn + i < n; i++) flags[2 * (pfn + i)] = 1 << KPF.BUDDY;
      pfn += nr;
      continue;
    }
    const f = core.flags(pfn);
    if (f & PG.pgtable) { set(pfn, KPF.PGTABLE); pfn++; continue; }
    if (pfn === zero) {
      // the zero page: reserved (it lives in the kernel image), never rmap-counted
      set(pfn, KPF.ZERO_PAGE); set(pfn, KPF.RESERVED);
      pfn++;
      continue;
    }
    if (pfn === hzero) {
      // the huge zero folio: is_huge_zero_folio -> ZERO_PAGE | THP, no rmap, no LRU
      for (let i = 0; i < 512; i++) {
        set(pfn + i, i === 0 ? KPF.COMPOUND_HEAD : KPF.COMPOUND_TAIL);
        set(pfn + i, KPF.ZERO_PAGE); set(pfn + i, KPF.THP);
      }
      pfn += 512;
      continue;
    }
    if ((core.field(pfn, "PAGE_MAPPING") & PAGE_MAPPING_ANON) === 0 || core.headPfn(pfn) !== pfn) {
      pfn++; // an allocated frame the kernel would show with no flags
      continue;
    }
    // an anonymous folio in use: its head here, `order` its size
    const order = (f & PG.head) ? core.folioOrder(pfn) : 0;
    const nr = 2 ** order;
    const mapped = core.e.folio_mapcount(pfn) > 0; // page_mapped(): folio_mapped() since 6.x
    const hf = core.flags(pfn); // folio->flags: the head's, shown for every page of the folio
    for (let done = 0; done < nr; done += slots) {
      const m = Math.min(slots, nr - done);
      for (let i = 0; i < m; i++) core.scratchSet(i, pfn + done + i);
      core.e.page_mapcount_batch(m);
      for (let i = 0; i < m; i++) {
        const p = pfn + done + i;
        count[2 * p] = Math.max(0, core.scratchGetSigned(i)); // folio_precise_page_mapcount
        let lo = (1 << KPF.ANON);
        if (mapped) lo |= 1 << KPF.MMAP;
        if (order > 0) lo |= (p === pfn ? 1 << KPF.COMPOUND_HEAD : 1 << KPF.COMPOUND_TAIL) | (1 << KPF.THP);
        // an anonymous folio in use is uptodate and on the LRU (folio_add_lru_vma on fault)
        lo |= (1 << KPF.UPTODATE) | (1 << KPF.LRU);
        if (hf & PG.swapbacked) lo |= 1 << KPF.SWAPBACKED;
        if (hf & PG.dirty) lo |= 1 << KPF.DIRTY;
        if (hf & PG.referenced) lo |= 1 << KPF.REFERENCED;
        flags[2 * p] = lo;
        // PG_anon_exclusive is PG_owner_2 (KPF_OWNER_2) of an anon page; stable_page_flags
        // copies the bits from folio->flags, so every page shows the head's
        if (hf & PG.anonExclusive) flags[2 * p + 1] |= 1 << (KPF.OWNER_2 - 32);
      }
    }
    pfn += nr;
  }
  return { flags: allFlags, count: allCount };
}

/** The KPF_* names set in a kpageflags value (lo, hi words), lowest bit first. */
export function kpfNames(lo: number, hi: number): KpfName[] {
  return (Object.entries(KPF) as [KpfName, number][])
    .filter(([, b]) => (b < 32 ? (lo >>> b) & 1 : (hi >>> (b - 32)) & 1) === 1)
    .map(([name]) => name);
}
