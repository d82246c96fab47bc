// The observation records of the scenario format (JSONL), as TypeScript types.

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

export interface RegionRecord {
  type: "region";
  dump: number;
  label: string | null;
  proc: string;
  region: string;
  rss: number;
  pmdMapped: number;
}

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

export type ObservationRecord = PageRecord | RegionRecord | InspectRecord;
