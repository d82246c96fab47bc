// The checker's counter rules: for every mapped folio, each raw field the
// machine's mapcount scheme keeps, page_mapcount, total_mapcount,
// _refcount, _large_mapcount and the deferred split queue, against the
// mappings the reverse walk counted (walk.ts).
import type { Kernel } from "../mm/types.js";
import type { Mappings } from "./walk.js";
import { averageMapcount } from "../mm/folio.js";

/** The heads of every folio the walk found mapped. */
export function mappedHeads(k: Kernel, w: Mappings): Set<number> {
  const heads = new Set<number>();
  for (const pfn of w.pteMaps.keys()) heads.add(k.core.headPfn(pfn));
  for (const h of w.pmdMaps.keys()) heads.add(h);
  return heads;
}

/** Check every mapped folio's counters. */
export function checkFolios(k: Kernel, w: Mappings, heads: Iterable<number>, say: (s: string) => void): void {
  for (const head of heads) {
    if (k.core.folioOrder(head) === 0) checkSmallPage(k, w, head, say);
    else checkLargeFolio(k, w, head, say);
  }
}

/** An order-0 page: _mapcount, _refcount and page_mapcount are its PTE mappings. */
function checkSmallPage(k: Kernel, w: Mappings, pfn: number, say: (s: string) => void): void {
  const core = k.core;
  const e = w.pteMaps.get(pfn) ?? 0;
  if (core.mapcountRaw(pfn) + 1 !== e) say(`pfn ${pfn}: _mapcount ${core.mapcountRaw(pfn)} but ${e} PTE mappings`);
  if (core.refcount(pfn) !== e) say(`pfn ${pfn}: _refcount ${core.refcount(pfn)} but ${e} mappings`);
  if (core.e.page_mapcount(pfn) !== e) say(`pfn ${pfn}: page_mapcount ${core.e.page_mapcount(pfn)}, expected ${e}`);
}

/** A THP: the scheme's fields, the per-page counts, the totals, the queue. */
function checkLargeFolio(k: Kernel, w: Mappings, head: number, say: (s: string) => void): void {
  const core = k.core;
  const scheme = core.scheme;
  const n = 1 << core.folioOrder(head);
  const pmd = w.pmdMaps.get(head) ?? 0;
  // compound_mapcount (doublemap, naive, subpages) = _entire_mapcount (large, nopagemapcount): one H[1] word
  const C = core.field(head + 1, "PAGE_COMPOUND_MAPCOUNT");
  const DM = scheme === "doublemap" && core.testFlag(head + 1, "double_map") ? 1 : 0;
  const cname = scheme === "large" || scheme === "nopagemapcount" ? "_entire_mapcount" : "compound_mapcount";
  if (C + 1 !== pmd) say(`THP ${head}: ${cname} ${C + 1} but ${pmd} PMD mappings`);
  if (scheme !== "doublemap" && core.testFlag(head + 1, "double_map")) say(`THP ${head}: PG_double_map set under the ${scheme} scheme`);
  if (DM && C < 0) say(`THP ${head}: PG_double_map set without a PMD mapping`);
  let ptes = 0, mapped = 0, unmapped = 0, ptePages = 0;
  for (let i = 0; i < n; i++) {
    const e = w.pteMaps.get(head + i) ?? 0;
    ptes += e;
    if (e) ptePages++;
    if (e + pmd > 0) mapped++; else unmapped++;
  }
  for (let i = 0; i < n; i++) {
    const e = w.pteMaps.get(head + i) ?? 0;
    const M = core.mapcountRaw(head + i);
    // the raw per-page field each scheme keeps
    const want = scheme === "doublemap" ? e + DM - 1 : scheme === "naive" ? e + pmd - 1 : scheme === "nopagemapcount" ? -1 : e - 1;
    if (M !== want) { say(`THP ${head}[${i}]: _mapcount ${M}, expected ${want} (${scheme}: PTEs ${e}, PMDs ${pmd}${scheme === "doublemap" ? `, DoubleMap ${DM}` : ""})`); break; }
    const pm = core.e.page_mapcount(head + i);
    const wantPm = scheme === "nopagemapcount" ? averageMapcount(pmd, pmd + ptes, n) : e + pmd;
    if (pm !== wantPm) { say(`THP ${head}[${i}]: page_mapcount ${pm}, expected ${wantPm}`); break; }
  }
  if (scheme === "doublemap" && ptePages > 0 && pmd > 0 && !DM) say(`THP ${head}: mapped by PMD and PTEs without PG_double_map`);
  const S = core.field(head + 1, "PAGE_SUBPAGES_MAPCOUNT"); // = _nr_pages_mapped
  if (scheme === "subpages" || scheme === "large") {
    const want = ptePages + (pmd > 0 ? core.entirelyMapped : 0);
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
  } else if (pmd === 0 && mapped > 0 && unmapped > 0 && !queued) say(`THP ${head}: partially mapped but not on the deferred split queue`);
  if (k.profile.mmId || scheme === "large" || scheme === "nopagemapcount") {
    const lm = core.field(head + 1, "PAGE_LARGE_MAPCOUNT") + 1;
    if (lm !== pmd + ptes) say(`THP ${head}: _large_mapcount ${lm}, expected ${pmd + ptes}`);
  }
}
