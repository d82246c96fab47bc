// The observation records of the scenario format (JSONL): produced by the
// machine (mm/task_mmu.ts for dumps, mm/folio.ts for inspect), named here
// for the scenario layer and its users.
export type { PageRecord, RegionRecord, InspectRecord, ObservationRecord } from "../machine.js";
