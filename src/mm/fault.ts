// Anonymous page faults (mm/memory.c handle_mm_fault, do_anonymous_page,
// do_wp_page, wp_page_copy; mm/huge_memory.c do_huge_pmd_anonymous_page,
// do_huge_pmd_wp_page). Policy differences between kernels come from the
// profile; struct page work happens in the core, one call per fault.
import type { Kernel, Mm, Vma } from "./types.js";
import { VM_HUGEPAGE, VM_NOHUGEPAGE } from "./types.js";
import { OomError } from "../errors.js";
import { PAGE_SIZE, PMD_SIZE, _PAGE_PSE, _PAGE_RW, _PAGE_DIRTY, _PAGE_ACCESSED, _PAGE_SPECIAL, _PAGE_PRESENT, mkLo, mkHi } from "../pgtable/x86_64.js";
import { anonVmaPrepare, anonEntryFlags, vmaPageProt, findVma } from "./vma.js";
import { splitHugePmd, queueNewThp } from "./huge_memory.js";
import { pmdThpAllowed, mthpOrdersAllowed, type ThpKnobs } from "../knobs.js";

/**
 * thp_vma_allowable_order(…, TVA_IN_PF | TVA_ENFORCE_SYSFS, PMD_ORDER) under
 * the current knobs, then thp_vma_suitable_order: the whole 2 MiB block
 * lies inside the VMA.
 */
export function thpFaultAllowed(k: Kernel, vma: Vma, blk: number): boolean {
  return pmdThpAllowed(k.knobs, (vma.flags & VM_HUGEPAGE) !== 0, (vma.flags & VM_NOHUGEPAGE) !== 0) &&
    blk * PMD_SIZE >= vma.start && (blk + 1) * PMD_SIZE <= vma.end;
}

/**
 * A user access to every page of [start, end) in ascending order (the CPU
 * running `touch`): per 2 MiB block the MMU walks PGD -> PMD once
 * (pmdOffset) and keeps the PMD slot; the pages that translate go by in
 * runs (PageTables.accessRun), and each page that faults goes to
 * handleMmFault, which tells how many pages from it are now mapped and
 * accessed, so those are not walked again. Every page must lie in a VMA
 * that allows the access (the caller checked).
 */
export function accessRange(k: Kernel, mm: Mm, start: number, end: number, write: boolean): void {
  const pt = k.pt;
  let vma: Vma | undefined;
  for (let a = start; a < end;) {
    const blk = Math.floor(a / PMD_SIZE);
    const bend = Math.min(end, (blk + 1) * PMD_SIZE);
    let pmd = pt.pmdOffset(mm, blk, false);
    while (a < bend) {
      if (pmd >= 0) {
        const n = pt.accessRun(pmd, a, bend, write);
        if (n > 0) { a += n * PAGE_SIZE; continue; }
      } else {
        pmd = pt.pmdOffset(mm, blk, true); // __pud_alloc, __pmd_alloc
      }
      if (vma === undefined || a >= vma.end || a < vma.start) vma = findVma(mm, a)!;
      a += handleMmFault(k, mm, vma, a, write, pmd, bend) * PAGE_SIZE;
    }
  }
}

/**
 * handle_mm_fault for an access the MMU refused (not present, or a write to
 * a read-only entry) at `addr` in an accessible anonymous VMA; `pmd` is the
 * slot of the PMD entry of its 2 MiB block (the MMU's walk; its tables
 * exist). The faulting access then completes (a write marks its frame
 * written). Returns how many pages from `addr` (up to `end`, in the same
 * block) are now mapped and accessed: 1, or more when one fault mapped more
 * (a THP or an mTHP folio; a run of order-0 write faults on none PTEs is
 * handled in one batch, each page its own do_anonymous_page).
 */
export function handleMmFault(k: Kernel, mm: Mm, vma: Vma, addr: number, write: boolean, pmd: number, end: number): number {
  const pt = k.pt;
  const blk = Math.floor(addr / PMD_SIZE);
  const idx = (addr % PMD_SIZE) >>> 12;
  if (pt.none(pmd)) {
    // "no PTE table exists yet for that 2 MiB": the only place a THP is born.
    if (thpFaultAllowed(k, vma, blk) && doHugePmdAnonymousPage(k, mm, vma, blk, pmd, write)) {
      return accessed(k, pt.pfn(pmd) + idx, (end - addr) / PAGE_SIZE, write);
    }
    pt.populate(pmd, pt.alloc(mm, "PTE")); // __pte_alloc
  } else if (pt.pmdTransHuge(pmd)) {
    if (write && !pt.writable(pmd)) {
      if (doHugePmdWpPage(k, mm, vma, blk, pmd)) return accessed(k, pt.pfn(pmd) + idx, 1, write);
      // the PMD was split: the write is handled at PTE level below
    } else {
      pt.setBits(pmd, _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0)); // huge_pmd_set_accessed
      return accessed(k, pt.pfn(pmd) + idx, 1, write);
    }
  }
  const base = pt.pteTable(pmd);
  const pte = pt.nth(base, idx);
  if (pt.none(pte)) {
    if (!write && k.profile.readFaultZeroPage) {
      // do_anonymous_page, read: the shared zero page, special and read-only
      const prot = vmaPageProt(vma);
      pt.set(pte, mkLo(k.core.zeroPfn, prot.lo | _PAGE_SPECIAL), mkHi(k.core.zeroPfn, prot.nx));
      return 1;
    }
    return doAnonymousPage(k, mm, vma, addr, base, idx, end, write);
  }
  if (write && !pt.writable(pte)) return doWpPages(k, mm, vma, addr, base, idx, end);
  pt.setBits(pte, _PAGE_ACCESSED | (write ? _PAGE_DIRTY : 0)); // the MMU sets A (and D)
  return accessed(k, pt.pfn(pte), 1, write);
}

/** The faulting access completes on `n` pages from frame `pfn`: a write stores a non-zero byte. Returns n. */
function accessed(k: Kernel, pfn: number, n: number, write: boolean): number {
  if (write) k.core.setNonzeroRun(pfn, n);
  return n;
}

/**
 * do_anonymous_page with alloc_anon_folio: the highest allowed mTHP order
 * (the `hugepages-NkB/enabled` knobs, mthpOrdersAllowed) whose naturally
 * aligned range lies inside the VMA with every PTE of it none
 * (thp_vma_suitable_order, pte_range_none) gets a new large folio, mapped
 * whole by PTEs (set_ptes, folio_add_new_anon_rmap of nr pages); no free
 * block of that order falls back to the next lower one, and at the end to a
 * 4 KiB page. Returns the PFN now mapped at `addr`.
 */
function doAnonymousPage(k: Kernel, mm: Mm, vma: Vma, addr: number, base: number, idx: number, end: number, write: boolean): number {
  const orders = mthpOrders(k.knobs, vma);
  if (orders.length === 0) return mapNewAnonPages(k, mm, vma, addr, base, idx, end, write);
  const pt = k.pt;
  if (orders.length === 1 && !k.profile.mthpBesideFull && (write || !k.profile.readFaultZeroPage)) {
    const n = mapNewAnonFolios(k, mm, vma, addr, base, end, write, orders[0]);
    if (n > 0) return n;
  }
  const fallback = -k.core.errorCode("FALLBACK");
  for (let j = 0; j < orders.length; j++) {
    const order = orders[j];
    const bytes = PAGE_SIZE << order;
    const start = Math.floor(addr / bytes) * bytes;
    if (start < vma.start || start + bytes > vma.end) continue;
    const from = (start % PMD_SIZE) / PAGE_SIZE;
    if (!pt.ptesNone(base, from, 1 << order)) continue;
    if (k.profile.mthpBesideFull && !neighbourFull(k, vma, base, start, order)) continue;
    anonVmaPrepare(k, mm, vma);
    const head = k.core.e.do_anonymous_folio(mm.id, vma.anonVma, start / PAGE_SIZE, order);
    if (head === fallback) continue;
    if (head < 0) throw new OomError("out of memory");
    const prot = vmaPageProt(vma);
    pt.setPtes(base, from, 1 << order, head, anonEntryFlags(vma), prot.nx);
    // the access goes on over the rest of the new folio (its PTEs are young and dirty)
    const first = (addr - start) / PAGE_SIZE;
    return accessed(k, head + first, Math.min(1 << order, (end - start) / PAGE_SIZE) - first, write);
  }
  return mapNewAnonPage(k, mm, vma, addr, pt.nth(base, idx), write);
}

/**
 * do_anonymous_page with alloc_anon_folio when one mTHP order is allowed
 * (and no build quirk): the faults of an access that runs on over none
 * PTEs, one per aligned range of that order, each taking the same branch
 * (its range in the VMA, every PTE none), go to the core in one call
 * (do_anonymous_folios: per fault, in order, do_anonymous_folio), then
 * their PTEs are written (set_ptes). A fault whose folio could not be had
 * goes on down the fallback chain (a 4 KiB page). Returns how many pages
 * from `addr` were mapped and accessed, or 0 when the first fault's range
 * does not qualify (the caller's general rule handles it).
 */
function mapNewAnonFolios(k: Kernel, mm: Mm, vma: Vma, addr: number, base: number, end: number, write: boolean, order: number): number {
  const pt = k.pt;
  const core = k.core;
  const nr = 1 << order, bytes = PAGE_SIZE << order;
  const start = Math.floor(addr / bytes) * bytes;
  if (start < vma.start || start + bytes > vma.end || !pt.ptesNone(base, (start % PMD_SIZE) / PAGE_SIZE, nr)) return 0;
  // the faults that follow: the access reaches each next range's first page, which lies in the VMA with its PTEs none
  const limit = Math.min(end, vma.end);
  let n = 1;
  for (let s = start + bytes; s < limit && s + bytes <= vma.end && pt.ptesNone(base, (s % PMD_SIZE) / PAGE_SIZE, nr); s += bytes) n++;
  anonVmaPrepare(k, mm, vma);
  const done = core.e.do_anonymous_folios(n, mm.id, vma.anonVma, start / PAGE_SIZE, order);
  const flags = anonEntryFlags(vma), nx = vmaPageProt(vma).nx;
  for (let j = 0; j < done; j++) {
    const s = start + j * bytes;
    const head = core.scratchGet(j);
    pt.setPtes(base, (s % PMD_SIZE) / PAGE_SIZE, nr, head, flags, nx);
    // the access goes on over the new folio (its PTEs are young and dirty)
    const a = Math.max(addr, s);
    if (write) core.setNonzeroRun(head + (a - s) / PAGE_SIZE, (Math.min(s + bytes, end) - a) / PAGE_SIZE);
  }
  if (done === n) return (Math.min(start + n * bytes, end) - addr) / PAGE_SIZE;
  // fault `done` found no free block of that order: the next in its chain is a 4 KiB page
  const a = done === 0 ? addr : start + done * bytes;
  return (a - addr) / PAGE_SIZE + mapNewAnonPage(k, mm, vma, a, pt.nth(base, (a % PMD_SIZE) / PAGE_SIZE), write);
}

/**
 * The allowed mTHP orders of a VMA under these knobs: computed once per knob
 * set (Machine replaces the knobs object on a change), and the last set is
 * remembered by identity, so a fault pays one comparison.
 */
let lastKnobs: ThpKnobs | undefined;
let lastOrders: [number[], number[]] = [[], []];
function mthpOrders(knobs: ThpKnobs, vma: Vma): number[] {
  if ((vma.flags & VM_NOHUGEPAGE) !== 0) return [];
  if (knobs !== lastKnobs) {
    lastOrders = [mthpOrdersAllowed(knobs, false, false), mthpOrdersAllowed(knobs, true, false)];
    lastKnobs = knobs;
  }
  return lastOrders[(vma.flags & VM_HUGEPAGE) !== 0 ? 1 : 0];
}

/**
 * The anon_beside_full build quirk (Profile.mthpBesideFull): the aligned
 * range of the same size below or above [start, start + size) lies in the
 * VMA and in the same PTE table, and every PTE of it is populated.
 */
function neighbourFull(k: Kernel, vma: Vma, base: number, start: number, order: number): boolean {
  const bytes = PAGE_SIZE << order;
  const blk = Math.floor(start / PMD_SIZE);
  for (const n of [start - bytes, start + bytes]) {
    if (n < vma.start || n + bytes > vma.end || Math.floor(n / PMD_SIZE) !== blk) continue;
    if (k.pt.ptesAllSet(base, (n % PMD_SIZE) / PAGE_SIZE, 1 << order)) return true;
  }
  return false;
}

/** do_anonymous_page (write): a new exclusive page, mapped writable and dirty. Returns 1 (the pages accessed). */
function mapNewAnonPage(k: Kernel, mm: Mm, vma: Vma, addr: number, pte: number, write: boolean): number {
  anonVmaPrepare(k, mm, vma);
  const pfn = k.core.e.do_anonymous_page(mm.id, vma.anonVma, Math.floor(addr / 4096));
  if (pfn < 0) throw new OomError("out of memory");
  setAnonPte(k, vma, pte, pfn);
  return accessed(k, pfn, 1, write);
}

/**
 * do_anonymous_page for the faults of an access that runs on over none
 * PTEs (no mTHP order allowed): the access would fault on each of them in
 * turn, each fault one order-0 page; the core does them all in one call
 * (do_anonymous_pages: one allocation and page_add_new_anon_rmap per page,
 * in the same order), then their PTEs are written. Returns how many pages.
 */
function mapNewAnonPages(k: Kernel, mm: Mm, vma: Vma, addr: number, base: number, idx: number, end: number, write: boolean): number {
  // the run stops at the first populated PTE, the end of the access and the end of the VMA
  const core = k.core;
  const n = 1 + k.pt.ptesNoneRun(base, idx + 1, idx + (Math.min(end, vma.end) - addr) / PAGE_SIZE);
  if (n === 1) return mapNewAnonPage(k, mm, vma, addr, k.pt.nth(base, idx), write);
  anonVmaPrepare(k, mm, vma);
  const done = core.e.do_anonymous_pages(mm.id, vma.anonVma, Math.floor(addr / 4096), n);
  k.pt.setPtesFromScratch(base, idx, done, anonEntryFlags(vma), vmaPageProt(vma).nx);
  if (write) {
    // each faulting write completes: mark the frames, a run of consecutive PFNs at a time
    for (let i = 0; i < done;) {
      const pfn = core.scratchGet(i);
      let len = 1;
      while (i + len < done && core.scratchGet(i + len) === pfn + len) len++;
      core.setNonzeroRun(pfn, len);
      i += len;
    }
  }
  if (done < n) throw new OomError("out of memory");
  return n;
}

function setAnonPte(k: Kernel, vma: Vma, pte: number, pfn: number): void {
  k.pt.set(pte, mkLo(pfn, anonEntryFlags(vma)), mkHi(pfn, vmaPageProt(vma).nx));
}

/**
 * do_wp_page for the faults of a write that runs on over read-only PTEs:
 * the write would fault on each of them in turn; the run (present,
 * read-only, not the zero page, in this VMA, up to `end`) goes to the core
 * in one call (do_wp_page_batch: per page, in order, the reuse decision or
 * wp_page_copy's new page and old mapping's removal), then the PTEs are
 * written. Returns how many pages.
 */
function doWpPages(k: Kernel, mm: Mm, vma: Vma, addr: number, base: number, idx: number, end: number): number {
  const core = k.core;
  const pt = k.pt;
  const max = idx + (Math.min(end, vma.end) - addr) / PAGE_SIZE;
  let n = 0;
  for (let i = idx; i < max; i++, n++) {
    const lo = pt.lo(pt.nth(base, i));
    if ((lo & (_PAGE_PRESENT | _PAGE_RW | _PAGE_SPECIAL)) !== _PAGE_PRESENT) break;
  }
  if (n <= 1 || vma.anonVma === 0) return accessed(k, doWpPage(k, mm, vma, addr, pt.nth(base, idx)), 1, true);
  for (let i = 0; i < n; i++) core.scratchSet(i, pt.pfn(pt.nth(base, idx + i)));
  const done = core.e.do_wp_page_batch(n, mm.id, vma.anonVma, Math.floor(addr / PAGE_SIZE));
  const flags = anonEntryFlags(vma), nx = vmaPageProt(vma).nx;
  let runPfn = -1, runLen = 0; // the frames written, marked a run of consecutive PFNs at a time
  for (let i = 0; i < done; i++) {
    const pte = pt.nth(base, idx + i);
    const pfn = core.scratchGet(n + i);
    if (pfn === core.scratchGet(i)) pt.setBits(pte, _PAGE_RW | _PAGE_DIRTY | _PAGE_ACCESSED); // wp_page_reuse
    else pt.set(pte, mkLo(pfn, flags), mkHi(pfn, nx)); // wp_page_copy
    if (pfn === runPfn + runLen) { runLen++; continue; }
    if (runLen > 0) core.setNonzeroRun(runPfn, runLen); // the writes complete
    runPfn = pfn;
    runLen = 1;
  }
  if (runLen > 0) core.setNonzeroRun(runPfn, runLen);
  if (done < n) throw new OomError("out of memory");
  return n;
}

/** do_wp_page: a write to a read-only PTE of a writable VMA. */
function doWpPage(k: Kernel, mm: Mm, vma: Vma, addr: number, pte: number): number {
  const core = k.core;
  const old = k.pt.pfn(pte);
  if (k.pt.pteSpecial(pte)) { // zero page: wp_page_copy from zero
    mapNewAnonPage(k, mm, vma, addr, pte, false);
    return k.pt.pfn(pte);
  }
  if (core.e.wp_page_reuse(old)) {
    k.pt.setBits(pte, _PAGE_RW | _PAGE_DIRTY | _PAGE_ACCESSED); // wp_page_reuse
    return old;
  }
  // wp_page_copy: new page first, then the old mapping goes
  mapNewAnonPage(k, mm, vma, addr, pte, false);
  const pfn = k.pt.pfn(pte);
  core.scratchSet(0, old);
  core.e.zap_pte_batch(1, mm.id);
  return pfn;
}

/** Write a PMD entry mapping a THP (mk_huge_pmd + maybe_pmd_mkwrite(pmd_mkdirty)). */
function setHugePmd(k: Kernel, vma: Vma, pmd: number, pfn: number, writable: boolean): void {
  const prot = vmaPageProt(vma);
  k.pt.set(pmd, mkLo(pfn, _PAGE_PSE | (writable ? anonEntryFlags(vma) : prot.lo)), mkHi(pfn, prot.nx));
}

/**
 * do_huge_pmd_anonymous_page: a read maps the huge zero page (when
 * use_zero_page is 1), a write (or a read without it) a new THP, which
 * 6.12+ queues for the underused shrinker; each PMD gets a page table
 * deposited for a later split. Returns false to fall back to a 4 KiB fault
 * (no order-9 block / no huge zero page).
 */
function doHugePmdAnonymousPage(k: Kernel, mm: Mm, vma: Vma, blk: number, pmd: number, write: boolean): boolean {
  const core = k.core;
  anonVmaPrepare(k, mm, vma);
  if (!write && k.knobs.use_zero_page === 1 && k.profile.readFaultHugeZeroPage) {
    const table = k.pt.alloc(mm, "deposited PTE");
    const z = core.e.get_huge_zero_page() >>> 0;
    if (z === core.NIL) { k.pt.free(mm, table); return false; }
    setHugePmd(k, vma, pmd, z, false);
    k.deposits.set(pmd, table);
    return true;
  }
  const head = core.e.do_huge_pmd_anonymous_page(mm.id, vma.anonVma, blk * 512);
  if (head === -core.errorCode("FALLBACK")) return false;
  if (head === -core.errorCode("NOMEM")) throw new OomError("out of memory");
  mm.nrTables++;
  k.deposits.set(pmd, core.result1);
  setHugePmd(k, vma, pmd, head, true);
  queueNewThp(k, head);
  return true;
}

/**
 * do_huge_pmd_wp_page: a write to a read-only huge PMD. Returns true when
 * the PMD now maps a writable THP, false when it was split and the write
 * must be handled at PTE level.
 */
function doHugePmdWpPage(k: Kernel, mm: Mm, vma: Vma, blk: number, pmd: number): boolean {
  const core = k.core;
  const pfn = k.pt.pfn(pmd);
  if (pfn === core.hugeZeroPfn) {
    // do_huge_zero_wp_pmd: a fresh THP for the whole 2 MiB, or split and fall back
    const head = core.e.alloc_thp_pmd_mapped(mm.id, vma.anonVma, blk * 512, 0);
    if (head >= 0) {
      setHugePmd(k, vma, pmd, head, true);
      core.e.put_huge_zero_page();
      queueNewThp(k, head); // map_anon_folio_pmd queues it as a fault does (seen on 6.18)
      return true;
    }
    splitHugePmd(k, mm, pmd);
    return false;
  }
  if (core.e.wp_huge_pmd_reuse(pfn)) {
    k.pt.setBits(pmd, _PAGE_RW | _PAGE_DIRTY | _PAGE_ACCESSED);
    return true;
  }
  if (k.profile.cowSplitsPmd) {
    // 5.8+: split the writer's PMD; the PTE-level fault copies one 4 KiB page
    splitHugePmd(k, mm, pmd);
    return false;
  }
  // 4.5: copy the whole 2 MiB into a new THP ...
  const head = core.e.alloc_thp_pmd_mapped(mm.id, vma.anonVma, blk * 512, 0);
  if (head >= 0) {
    setHugePmd(k, vma, pmd, head, true);
    core.e.zap_huge_pmd(pfn, mm.id);
    return true;
  }
  // ... or into 512 small pages (do_huge_pmd_wp_page_fallback)
  if (core.e.do_huge_pmd_wp_page_fallback(pfn, mm.id, vma.anonVma, blk * 512) < 0) {
    splitHugePmd(k, mm, pmd); // no memory for that either: split, COW one page
    return false;
  }
  const table = k.deposits.get(pmd)!;
  k.deposits.delete(pmd);
  const base = k.pt.base(table);
  const prot = vmaPageProt(vma);
  for (let i = 0; i < 512; i++) {
    const p = core.scratchGet(i);
    k.pt.set(k.pt.nth(base, i), mkLo(p, prot.lo | _PAGE_DIRTY | _PAGE_RW), mkHi(p, prot.nx));
  }
  k.pt.populate(pmd, table);
  return false;
}

