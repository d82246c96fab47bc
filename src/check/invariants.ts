// The invariant checker: a full reverse walk. It recomputes, from the page
// tables of every live process, how often each page is mapped by PTEs and
// each THP by PMDs, then compares with the core's counters (raw fields and
// page_mapcount/total_mapcount), the refcounts, the DoubleMap offsets, the
// deferred split queue, the huge zero page's refcount, and accounts for
// every frame: free in the buddy lists, a page table (live or deposited),
// the zero pages, or a mapped page. Anything else is a leak.
import type { Machine } from "../machine.js";
import { PMD_SIZE, _PAGE_RW, _PAGE_PSE, _PAGE_SPECIAL, _PAGE_PRESENT, _PAGE_PROTNONE, entryPfn, PGDIR_SIZE } from "../pgtable/x86_64.js";

export function checkInvariants(m: Machine): string[] {
  const k = m.k;
  const core = k.core;
  const bad: string[] = [];
  const say = (s: string) => { if (bad.length < 50) bad.push(s); };
  const pteMaps = new Map<number, number>(); // pfn -> PTE mappings
  const pmdMaps = new Map<number, number>(); // head pfn -> PMD mappings
  const tables = new Set<number>();
  const hugeSlots = new Set<number>(); // PMD slots holding a huge PMD (they own a deposit)
  const writable: [number, string][] = []; // writable PTEs: pfn (for the COW check)
  const writableHuge: [number, string][] = []; // writable huge PMDs: head pfn
  let hzeroPmds = 0;
  const inc = (mp: Map<number, number>, key: number) => mp.set(key, (mp.get(key) ?? 0) + 1);

  const walkTable = (pfn: number, what: string) => {
    if (tables.has(pfn)) say(`page-table page ${pfn} (${what}) is used twice`);
    tables.add(pfn);
    if (!core.testFlag(pfn, core.PG.pgtable)) say(`${what} table ${pfn} lacks PageTable`);
  };

  for (const p of m.liveProcesses()) {
    const mm = p.mm;
    walkTable(mm.pgd, `${p.name} PGD`);
    let count = 1;
    const pgdBase = k.pt.base(mm.pgd);
    for (let g = 0; g < 512; g++) {
      const u32 = core.u32;
      if (u32[pgdBase + 2 * g] === 0) continue;
      if (g >= 256) say(`${p.name}: PGD entry ${g} maps kernel space`);
      const pud = entryPfn(u32[pgdBase + 2 * g], u32[pgdBase + 2 * g + 1]);
      walkTable(pud, `${p.name} PUD`); count++;
      const pudBase = k.pt.base(pud);
      for (let u = 0; u < 512; u++) {
        if (u32[pudBase + 2 * u] === 0) continue;
        const pmdT = entryPfn(u32[pudBase + 2 * u], u32[pudBase + 2 * u + 1]);
        walkTable(pmdT, `${p.name} PMD`); count++;
        const pmdBase = k.pt.base(pmdT);
        for (let d = 0; d < 512; d++) {
          const slot = pmdBase + 2 * d;
          const lo = u32[slot], hi = u32[slot + 1];
          if (lo === 0 && hi === 0) continue;
          const va = g * PGDIR_SIZE + u * 2 ** 30 + d * PMD_SIZE;
          const vma = mm.vmas.find((v) => v.start < va + PMD_SIZE && v.end > va);
          if (!vma) say(`${p.name}: PMD at 0x${va.toString(16)} outside every VMA`);
          if ((lo & _PAGE_PSE) !== 0) {
            const head = entryPfn(lo, hi);
            const dep = k.deposits.get(slot);
            if (dep === undefined) say(`${p.name}: huge PMD at 0x${va.toString(16)} has no deposited table`);
            else { walkTable(dep, `${p.name} deposited`); count++; }
            if (vma && (vma.start > va || vma.end < va + PMD_SIZE)) say(`${p.name}: huge PMD at 0x${va.toString(16)} crosses a VMA edge`);
            hugeSlots.add(slot);
            if (head === core.hugeZeroPfn) {
              hzeroPmds++;
              if ((lo & _PAGE_RW) !== 0) say(`${p.name}: writable huge-zero PMD at 0x${va.toString(16)}`);
            } else {
              inc(pmdMaps, head);
              if ((lo & _PAGE_RW) !== 0) writableHuge.push([head, `${p.name} 0x${va.toString(16)}`]);
            }
            continue;
          }
          if (k.deposits.has(slot)) say(`${p.name}: PTE-table PMD at 0x${va.toString(16)} also has a deposit`);
          const t = entryPfn(lo, hi);
          walkTable(t, `${p.name} PTE`); count++;
          const base = k.pt.base(t);
          for (let i = 0; i < 512; i++) {
            const plo = u32[base + 2 * i], phi = u32[base + 2 * i + 1];
            if (plo === 0 && phi === 0) continue;
            const a = va + i * 4096;
            if ((!vma || a < vma.start || a >= vma.end) && !mm.vmas.some((v) => v.start <= a && a < v.end)) say(`${p.name}: PTE at 0x${a.toString(16)} outside every VMA`);
            if ((plo & (_PAGE_PRESENT | _PAGE_PROTNONE)) === 0) { say(`${p.name}: non-present PTE at 0x${a.toString(16)}`); continue; }
            const pfn = entryPfn(plo, phi);
            if ((plo & _PAGE_SPECIAL) !== 0) {
              if (pfn !== core.zeroPfn) say(`${p.name}: special PTE at 0x${a.toString(16)} not to the zero page`);
              continue;
            }
            if (pfn === core.zeroPfn) say(`${p.name}: zero page mapped without _PAGE_SPECIAL`);
            inc(pteMaps, pfn);
            if ((plo & _PAGE_RW) !== 0) writable.push([pfn, `${p.name} 0x${a.toString(16)}`]);
          }
        }
      }
    }
    if (count !== mm.nrTables) say(`${p.name}: owns ${mm.nrTables} page-table pages, the walk found ${count}`);
  }
  // every deposited table belongs to a huge PMD of a live process
  for (const [slot, table] of k.deposits) if (!hugeSlots.has(slot)) say(`stray deposit (table ${table}) at slot ${slot}`);

  // Every mapped folio: counters against the walk.
  const heads = new Set<number>();
  for (const pfn of pteMaps.keys()) heads.add(core.headPfn(pfn));
  for (const h of pmdMaps.keys()) heads.add(h);
  const C_OFF = core.off.PAGE_COMPOUND_MAPCOUNT;
  const scheme = core.scheme;
  const MAPPED_FLAG = 0x800000; // COMPOUND_MAPPED (6.2) = ENTIRELY_MAPPED (6.8+)
  const keepsLarge = m.profile.mmId || scheme === "large" || scheme === "nopagemapcount";
  for (const head of heads) {
    const order = core.folioOrder(head);
    const n = 1 << order;
    const pmd = pmdMaps.get(head) ?? 0;
    let ptes = 0;
    if (order === 0) {
      const e = pteMaps.get(head) ?? 0;
      if (core.mapcountRaw(head) + 1 !== e) say(`pfn ${head}: _mapcount ${core.mapcountRaw(head)} but ${e} PTE mappings`);
      if (core.refcount(head) !== e) say(`pfn ${head}: _refcount ${core.refcount(head)} but ${e} mappings`);
      if (core.e.page_mapcount(head) !== e) say(`pfn ${head}: page_mapcount ${core.e.page_mapcount(head)}, expected ${e}`);
      continue;
    }
    // compound_mapcount (doublemap, naive, subpages) = _entire_mapcount (large, nopagemapcount): one H[1] word
    const C = core.field(head + 1, C_OFF);
    const DM = scheme === "doublemap" && core.testFlag(head + 1, core.PG.double_map) ? 1 : 0;
    const cname = scheme === "large" || scheme === "nopagemapcount" ? "_entire_mapcount" : "compound_mapcount";
    if (C + 1 !== pmd) say(`THP ${head}: ${cname} ${C + 1} but ${pmd} PMD mappings`);
    if (scheme !== "doublemap" && core.testFlag(head + 1, core.PG.double_map)) say(`THP ${head}: PG_double_map set under the ${scheme} scheme`);
    if (DM && C < 0) say(`THP ${head}: PG_double_map set without a PMD mapping`);
    let mapped = 0, unmapped = 0, ptePages = 0;
    for (let i = 0; i < n; i++) {
      const e = pteMaps.get(head + i) ?? 0;
      ptes += e;
      if (e) ptePages++;
      if (e + pmd > 0) mapped++; else unmapped++;
    }
    for (let i = 0; i < n; i++) {
      const e = pteMaps.get(head + i) ?? 0;
      const M = core.mapcountRaw(head + i);
      // the raw per-page field each scheme keeps
      const want = scheme === "doublemap" ? e + DM - 1 : scheme === "naive" ? e + pmd - 1 : scheme === "nopagemapcount" ? -1 : e - 1;
      if (M !== want) { say(`THP ${head}[${i}]: _mapcount ${M}, expected ${want} (${scheme}: PTEs ${e}, PMDs ${pmd}${scheme === "doublemap" ? `, DoubleMap ${DM}` : ""})`); break; }
      const pm = core.e.page_mapcount(head + i);
      const wantPm = scheme === "nopagemapcount" ? averageMapcount(pmd, pmd + ptes, n) : e + pmd;
      if (pm !== wantPm) { say(`THP ${head}[${i}]: page_mapcount ${pm}, expected ${wantPm}`); break; }
    }
    if (scheme === "doublemap" && ptePages > 0 && pmd > 0 && !DM) say(`THP ${head}: mapped by PMD and PTEs without PG_double_map`);
    const S = core.field(head + 1, core.off.PAGE_SUBPAGES_MAPCOUNT); // = _nr_pages_mapped
    if (scheme === "subpages" || scheme === "large") {
      const want = ptePages + (pmd > 0 ? MAPPED_FLAG : 0);
      const name = scheme === "subpages" ? "subpages_mapcount" : "_nr_pages_mapped";
      if (S !== want) say(`THP ${head}: ${name} 0x${S.toString(16)}, expected 0x${want.toString(16)} (${ptePages} PTE-mapped pages, ${pmd} PMDs)`);
    } else if (scheme === "nopagemapcount" && S !== 0) say(`THP ${head}: _nr_pages_mapped ${S} is used under NO_PAGE_MAPCOUNT`);
    const tm = core.e.total_mapcount(head);
    if (tm !== pmd + ptes) say(`THP ${head}: total_mapcount ${tm}, expected ${pmd + ptes}`);
    if (core.refcount(head) !== pmd + ptes) say(`THP ${head}: _refcount ${core.refcount(head)}, expected ${pmd + ptes} (maps, no pins)`);
    for (let i = 1; i < n; i++) if (core.refcount(head + i) !== 0) { say(`THP ${head}: tail ${i} has _refcount ${core.refcount(head + i)}`); break; }
    const queued = core.e.thp_is_queued(head) !== 0;
    if (scheme === "nopagemapcount") {
      // approximate detection: no PMD map and fewer mappings than pages
      if (pmd === 0 && pmd + ptes > 0 && pmd + ptes < n && !queued) say(`THP ${head}: ${pmd + ptes} mappings of ${n} pages, no PMD, but not on the deferred split queue`);
    } else {
      const partial = pmd === 0 && mapped > 0 && unmapped > 0;
      if (partial && !queued) say(`THP ${head}: partially mapped but not on the deferred split queue`);
    }
    if (keepsLarge) {
      const lm = core.field(head + 1, core.off.PAGE_LARGE_MAPCOUNT) + 1;
      if (lm !== pmd + ptes) say(`THP ${head}: _large_mapcount ${lm}, expected ${pmd + ptes}`);
    }
  }

  // COW: a writable entry maps a page nobody else maps (else a write would
  // not fault and the sharer would see it); PG_anon_exclusive likewise.
  const maps = (pfn: number) => (pteMaps.get(pfn) ?? 0) + (pmdMaps.get(core.headPfn(pfn)) ?? 0);
  for (const [pfn, where] of writable) {
    if (maps(pfn) !== 1) say(`${where}: writable PTE to pfn ${pfn} that has ${maps(pfn)} mappings`);
  }
  for (const [head, where] of writableHuge) {
    let ptes = 0;
    for (let i = 0; i < 512; i++) ptes += pteMaps.get(head + i) ?? 0;
    if ((pmdMaps.get(head) ?? 0) !== 1 || ptes !== 0) say(`${where}: writable PMD to THP ${head} that is also mapped elsewhere`);
  }
  if (m.profile.anonExclusive) {
    const exclusive = 1 << core.PG.anon_exclusive;
    const seen = new Set<number>([...pteMaps.keys(), ...pmdMaps.keys()]);
    for (const pfn of seen) {
      if ((core.flags(pfn) & exclusive) !== 0 && maps(pfn) > 1) say(`pfn ${pfn}: PG_anon_exclusive but ${maps(pfn)} mappings`);
    }
  }

  // Huge zero page refcount: one per PMD plus the shrinker's.
  if (core.hugeZeroPfn !== core.NIL) {
    if (core.hugeZeroRefcount !== hzeroPmds + 1) say(`huge_zero_refcount ${core.hugeZeroRefcount}, expected ${hzeroPmds + 1}`);
  } else if (hzeroPmds) say(`huge-zero PMDs without a huge zero page`);

  // Buddy lists, then account for every frame.
  const fl = core.e.check_free_lists();
  if (fl !== 0) say(`buddy free lists are corrupt (${fl})`);
  let used = 1 + tables.size; // the zero page and the page tables
  if (core.hugeZeroPfn !== core.NIL) used += 512;
  for (const head of heads) used += 1 << core.folioOrder(head);
  // the free frames as the buddy lists hold them (nrFreePages() reads the vmstat counter)
  const free = core.e.nr_free_pages() >>> 0;
  if (free + used !== core.frames) say(`frames: ${free} free + ${used} in use != ${core.frames} (a leak of ${core.frames - free - used})`);
  if (core.vmstat("NR_FREE_PAGES") !== free) say(`NR_FREE_PAGES ${core.vmstat("NR_FREE_PAGES")} != ${free} frames in the buddy lists`);
  // Queue length against the queued THPs we can see.
  let queued = 0;
  for (const head of heads) if (core.folioOrder(head) > 0 && core.e.thp_is_queued(head)) queued++;
  if (queued !== core.splitQueueLen) say(`split queue holds ${core.splitQueueLen} THPs, ${queued} of them mapped`);
  const bp = core.u32[core.G.BAD_PAGES >>> 2];
  if (bp) say(`bad_page() reported ${bp} time(s)`);
  return bad;
}

/**
 * /proc/kpagecount of a large folio without per-page mapcounts
 * (folio_average_page_mapcount, L6.18): entire + round((large − entire) / nr_pages),
 * at least 1 while mapped.
 */
export function averageMapcount(entire: number, large: number, nrPages: number): number {
  if (large <= 0) return 0;
  if (large <= entire) return entire;
  const avg = Math.floor((large - entire + nrPages / 2) / nrPages) + entire;
  return Math.max(avg, 1);
}
