// The observation records of the scenario format (JSONL): produced by the
// machine (mm/task_mmu.ts for dumps, mm/folio.ts for inspect), named here
// for the scenario layer and its users, with their JSONL text.
import type { ObservationRecord, PageRecord } from "../machine.js";
export type { PageRecord, RegionRecord, InspectRecord, ObservationRecord } from "../machine.js";

/**
 * A record as one JSONL line: exactly `JSON.stringify(r)`. Page records (a
 * dump has one per present page, hundreds of thousands for a big region)
 * are written from a template whose constant part (type, dump, label,
 * process, region) is built once per region and dump; their other fields
 * are integers and folio names (F<n>, zero, hzero), which JSON writes as
 * they are. Anything else goes through JSON.stringify.
 *
 *   recordJson({ type: "page", dump: 1, label: null, proc: "p", region: "r", page: 0,
 *                folio: "F1", index: 0, order: 0, mapcount: 1 })
 *   // '{"type":"page","dump":1,"label":null,"proc":"p","region":"r","page":0,"folio":"F1","index":0,"order":0,"mapcount":1}'
 */
export function recordJson(r: ObservationRecord): string {
  if (r.type !== "page") return JSON.stringify(r);
  const p = r as PageRecord;
  if (p.dump !== lastDump || p.label !== lastLabel || p.proc !== lastProc || p.region !== lastRegion) {
    lastDump = p.dump; lastLabel = p.label; lastProc = p.proc; lastRegion = p.region;
    prefix = `{"type":"page","dump":${JSON.stringify(p.dump)},"label":${JSON.stringify(p.label)},` +
      `"proc":${JSON.stringify(p.proc)},"region":${JSON.stringify(p.region)},"page":`;
  }
  return `${prefix}${p.page},"folio":${plain(p.folio) ? `"${p.folio}"` : JSON.stringify(p.folio)},` +
    `"index":${p.index},"order":${p.order},"mapcount":${p.mapcount}}`;
}
// the constant part of the last page record written (one region of one dump at a time)
let lastDump = NaN, lastLabel: string | null | undefined, lastProc: string | undefined, lastRegion: string | undefined;
let prefix = "";
/** A string JSON writes as it is between quotes (printable ASCII, no quote or backslash): observe's folio names. */
function plain(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return false;
  }
  return true;
}
