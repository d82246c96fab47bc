// The observation records of the scenario format (JSONL): produced by the
// machine (mm/task_mmu.ts for dumps, mm/folio.ts for inspect), named here
// for the scenario layer and its users, with their JSONL text.
import type { ObservationRecord } from "../machine.js";
export type { PageRecord, RegionRecord, InspectRecord, ObservationRecord } from "../machine.js";

/**
 * A record as one JSONL line: exactly `JSON.stringify(r)`, the contract's
 * text. A big dump's page records are written faster without their objects
 * at all: `Machine.observeEach` with a `JsonlEncoder` (scenario/jsonl.ts),
 * which writes the same bytes.
 *
 *   recordJson({ type: "page", dump: 1, label: null, proc: "p", region: "r", page: 0,
 *                folio: "F1", index: 0, order: 0, mapcount: 1 })
 *   // '{"type":"page","dump":1,"label":null,"proc":"p","region":"r","page":0,"folio":"F1","index":0,"order":0,"mapcount":1}'
 */
export function recordJson(r: ObservationRecord): string {
  return JSON.stringify(r);
}
