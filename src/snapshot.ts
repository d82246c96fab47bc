// A deep copy of one machine's whole state: the core's linear memory and
// the host's processes, deposits, counters and knobs. Machine uses it to roll
// back an operation that ran out of memory half-way, tests use it to undo a
// deliberate corruption.
import type { Kernel, Process, Region } from "./mm/types.js";
import type { ThpKnobs } from "./knobs.js";
import { Deposits } from "./pgtable/deposit.js";

export interface Snapshot {
  memory: Uint8Array;
  procs: string;
  deposits: [number, number][];
  nextMmId: number;
  nextAnonVma: number;
  dumps: number;
  knobs: ThpKnobs;
}

/** Copy the state of `k` and its processes (`dumps`: the machine's dump counter). */
export function takeSnapshot(k: Kernel, procs: ReadonlyMap<string, Process>, dumps: number): Snapshot {
  return {
    memory: k.core.snapshotMemory(),
    procs: JSON.stringify([...procs.values()].map((p) => ({ ...p, regions: [...p.regions.values()] }))),
    deposits: [...k.deposits],
    nextMmId: k.nextMmId,
    nextAnonVma: k.nextAnonVma,
    dumps,
    knobs: { ...k.knobs },
  };
}

/** Put a snapshot back into `k` and `procs`; returns the dump counter to restore. */
export function restoreSnapshot(k: Kernel, procs: Map<string, Process>, s: Snapshot): number {
  k.core.restoreMemory(s.memory);
  procs.clear();
  for (const p of JSON.parse(s.procs) as (Omit<Process, "regions"> & { regions: Region[] })[]) {
    procs.set(p.name, { ...p, regions: new Map(p.regions.map((r) => [r.name, r])) });
  }
  k.deposits = new Deposits(s.deposits);
  k.nextMmId = s.nextMmId;
  k.nextAnonVma = s.nextAnonVma;
  k.knobs = { ...s.knobs };
  return s.dumps;
}
