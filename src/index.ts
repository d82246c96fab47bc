// thpemu: the public API, the same in Node and in a browser.
export { Machine, UserError, OomError, BadPageError, DEFAULT_MEMORY, MAX_MEMORY } from "./machine.js";
export type { MachineOptions, Advice, MadviseAdvice } from "./machine.js";
// Machine.observeEach's visitor: a dump's records one by one, folios by number (folioName: F<n>, zero, hzero).
export { folioName, FOLIO_ZERO, FOLIO_HZERO } from "./machine.js";
export type { ObserveVisitor } from "./machine.js";
export { procFileBytes, FIRST_PID } from "./machine.js";
export type { ProcTree, ProcFile, ProcIndex } from "./machine.js";
// /proc/PID/smaps (fs/proc/task_mmu.c): Machine.smaps(proc) per VMA, and the `smaps` of region records.
export { PSS_SHIFT, SMAPS_REGION_KEYS } from "./machine.js";
export type { MemSizeStats, SmapsFields, SmapsVma, SmapsRegion, SmapsRegionKey, ObserveOptions } from "./machine.js";
export { runScenario, runOps, applyOp, InvariantError } from "./scenario/run.js";
export type { RunOptions } from "./scenario/run.js";
export { parseScenario, normalizeOp, ScenarioError } from "./scenario/parse.js";
// Endurance runs (`thpemu stress` without the workers): random valid operations under the checker, the leak check, shrinking.
export { stress, stressRun, stressLines, shrinkStressFailure, leakCheck } from "./scenario/stress.js";
export type { StressOptions, RunResult, StressFailure, FailureKind, ShrunkFailure } from "./scenario/stress.js";
export type { Op } from "./scenario/parse.js";
export type { ObservationRecord, PageRecord, RegionRecord, InspectRecord } from "./scenario/records.js";
export { recordJson } from "./scenario/records.js";
export { JsonlEncoder, type JsonlMark } from "./scenario/jsonl.js";
export { PROFILES, KERNELS } from "./profiles.js";
export type { KernelName, Profile } from "./profiles.js";
export { decodeEntry, entryHex } from "./pgtable/x86_64.js";
export { SCHEMES } from "./profiles.js";
export type { SchemeName } from "./profiles.js";
export { compareSchemes, formatCompare, averagedRecords } from "./scenario/compare.js";
export type { CompareResult, SchemeRun } from "./scenario/compare.js";
export { KNOBS, KNOB_NAMES, REFERENCE_KNOBS, MTHP_SIZES_KB, isMthpKnob, parseKnob, pmdThpAllowed } from "./knobs.js";
export type { ThpKnobs, KnobName, ThpMode, SizeMode } from "./knobs.js";
export { QUIRK_NAMES } from "./profiles.js";
export type { HostQuirks } from "./profiles.js";
// A process as Machine.liveProcesses() returns it (name, regions, alive): what the viewers list.
export type { Process } from "./mm/types.js";
// The CLI's `--format table` text of observation records (a dump's runs, an inspect block, a dump with no live process).
export { formatTable, formatInspect, formatEmptyDump } from "./scenario/table.js";
// Read-only views of a machine for viewers: page-table trees with decoded entries, frame kinds, folio counters, one frame's struct page.
export { pageTableTree, pteRuns, frameKind, usedFrameLimit, folioCounters, frameRecord, formatMapping } from "./inspect/tables.js";
// The records those views return.
export type { TableNode, TableEntry, FrameKind, FolioCounters, FrameRecord } from "./inspect/tables.js";
