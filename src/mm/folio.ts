// A folio's counters as the kernel of a mapcount scheme names them
// (include/linux/mm.h page_mapcount, folio_mapcount; include/linux/mm_types.h
// struct folio): what `inspect` prints for the page mapped at an address.
import type { Kernel } from "./types.js";

/** `inspect P R OFF`: the raw struct page fields of the page mapped there. */
export interface InspectRecord {
  type: "inspect";
  proc: string;
  region: string;
  page: number;
  pfn: number;
  head_pfn: number;
  order: number;
  _refcount: number;
  _mapcount: number;
  compound_mapcount: number | null;
  PG_double_map: boolean | null;
  page_mapcount: number;
  total_mapcount: number;
  [extra: string]: unknown;
}

/**
 * The fields of the page at `pfn`, under the kernel names of the machine's
 * mapcount scheme (doublemap: compound_mapcount, PG_double_map; naive:
 * compound_mapcount; subpages: compound_mapcount, subpages_mapcount; large:
 * _entire_mapcount, _nr_pages_mapped, _large_mapcount; nopagemapcount:
 * _entire_mapcount, _large_mapcount, MM-owner slots), plus page_mapcount
 * and total_mapcount/folio_mapcount as that kernel computes them.
 */
export function inspectPage(k: Kernel, where: { proc: string; region: string; page: number }, pfn: number): InspectRecord {
  const core = k.core;
  const scheme = core.scheme;
  const head = core.headPfn(pfn);
  const order = core.folioOrder(head);
  const compound = order > 0;
  const thp = compound && head !== core.hugeZeroPfn;
  const t = head + 1;
  const C = compound ? core.field(t, "PAGE_COMPOUND_MAPCOUNT") : null;
  const old = scheme === "doublemap" || scheme === "naive" || scheme === "subpages";
  const rec: InspectRecord = {
    type: "inspect", ...where, pfn, head_pfn: head, order,
    _refcount: core.refcount(head),
    _mapcount: core.mapcountRaw(pfn),
    compound_mapcount: old ? C : null,
    PG_double_map: scheme === "doublemap" && compound ? core.testFlag(t, "double_map") : null,
    page_mapcount: core.e.page_mapcount(pfn),
    total_mapcount: core.e.total_mapcount(pfn),
    folio: pfn === core.zeroPfn ? "zero" : head === core.hugeZeroPfn ? "hzero" : null,
    PG_head: core.testFlag(pfn, "head"),
    deferred_split_queued: thp ? core.e.thp_is_queued(head) !== 0 : null,
    partially_mapped: thp ? core.e.folio_test_partially_mapped(head) !== 0 : null,
    scheme,
  };
  if (scheme === "subpages") rec.subpages_mapcount = compound ? core.field(t, "PAGE_SUBPAGES_MAPCOUNT") : null;
  if (scheme === "large" || scheme === "nopagemapcount") {
    rec._entire_mapcount = C;
    if (scheme === "large") rec._nr_pages_mapped = compound ? core.field(t, "PAGE_NR_PAGES_MAPPED") : null;
    rec._large_mapcount = thp ? core.field(t, "PAGE_LARGE_MAPCOUNT") : null;
    rec.folio_mapcount = rec.total_mapcount;
  }
  if (k.profile.anonExclusive) rec.PG_anon_exclusive = core.testFlag(pfn, "anon_exclusive");
  if (k.profile.mmId && thp) {
    rec._large_mapcount = core.field(t, "PAGE_LARGE_MAPCOUNT");
    const owners = core.mmOwners(head);
    rec._mm_id = owners.ids;
    rec._mm_id_mapcount = owners.mapcounts;
    rec.maybe_mapped_shared = owners.maybeMappedShared;
  }
  return rec;
}

/**
 * /proc/kpagecount of a large folio without per-page mapcounts
 * (folio_average_page_mapcount, 6.18): entire + round((large − entire) / nr_pages),
 * at least 1 while mapped.
 */
export function averageMapcount(entire: number, large: number, nrPages: number): number {
  if (large <= 0) return 0;
  if (large <= entire) return entire;
  const avg = Math.floor((large - entire + nrPages / 2) / nrPages) + entire;
  return Math.max(avg, 1);
}
