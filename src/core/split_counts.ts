// For mapcount schemes without per-page mapcounts in large folios
// (nopagemapcount): split_huge_page must learn how many PTEs map each
// subpage, which the kernel gets by freezing every mapping through the rmap
// walk (migration entries) and counting them again on unfreeze. An anonymous
// page never moves, so subpage i of the folio at block `blk` can only be
// mapped at page blk*512+i of each process: count those PTEs.
import type { Kernel, Process } from "../mm/types.js";
import { _PAGE_PSE, _PAGE_SPECIAL, _PAGE_PRESENT, _PAGE_PROTNONE, entryPfn } from "../pgtable/x86_64.js";

/** Fill scratch[0..511] with the PTE mappings of each subpage of `head` and flag them for the next split. */
export function subpageMapcounts(k: Kernel, live: Process[], head: number, blk: number): void {
  const core = k.core;
  const counts = new Int32Array(512);
  for (const p of live) {
    const pmd = k.pt.pmdSlot(p.mm, blk, false);
    if (pmd < 0) continue;
    const u32 = core.u32;
    const lo = u32[pmd];
    if (lo === 0 || (lo & _PAGE_PSE) !== 0) continue;
    const base = k.pt.base(entryPfn(lo, u32[pmd + 1]));
    for (let i = 0; i < 512; i++) {
      const plo = u32[base + 2 * i];
      if ((plo & (_PAGE_PRESENT | _PAGE_PROTNONE)) === 0 || (plo & _PAGE_SPECIAL) !== 0) continue;
      const pfn = entryPfn(plo, u32[base + 2 * i + 1]);
      if (pfn >= head && pfn < head + 512) counts[pfn - head]++;
    }
  }
  const u32 = core.u32;
  const s = core.scratchIndex;
  for (let i = 0; i < 512; i++) u32[s + i] = counts[i];
  core.setSplitCounts();
}
