// Everything the bench uses that dist/index.js does not export, in one place,
// so that a refactor of src/ which renames internals has one file to follow.
//
// `Machine.core` is a public getter, but what it returns (class Core,
// src/core/frames.ts) is not exported, and the bench uses these members:
//   core.vmstat(name)   NR_ANON_THPS (fork.mjs), THP_SPLIT_PMD (splits.mjs),
//                       NR_ANON_PAGES (calls.mjs): sanity checks outside the
//                       timed part; skipped, with a note, if vmstat is gone
//   core.e              the core's WebAssembly exports. calls.mjs replaces the
//                       object with counting wrappers (it relies on every
//                       call into the core going through `core.e` at call
//                       time); schemes.mjs calls the rmap entry points on it:
//                       cost_accounting, alloc_thp_pmd_mapped, copy_huge_pmd,
//                       zap_huge_pmd, split_huge_pmd, dup_pte_batch,
//                       zap_pte_batch, page_mapcount_batch, total_mapcount
//   core.u32, core.scratchIndex
//                       the scratch batch buffer the *_batch exports read
//                       their pfns from (schemes.mjs; core.scratchBase, else
//                       core.scratchSet(i, v), on a core without scratchIndex)
//   core.resetCosts()   zeroes the rmap cost counters that Machine.costs()
//                       reads (schemes-mthp.mjs's counting pass)
// cow.mjs imports dist/kernel/runner.js (hostCanServe, runOnKernel) and
// dist/scenario/parse.js (parseScenario, normalizeOp) of this checkout to
// time the COW storm on the real kernel; without them it says why and goes on.
// dump.mjs uses the package's recordJson when the build exports it.
// The throughput cases (faults, fork, splits, transhuge-stress) time only the
// public Machine API (create, spawn, mmap, touch, munmap, madvise, mprotect,
// fork, exit, shrink; inspect for the mTHP cases' untimed folio-order check).

let vmstatNoted = false;

/** A vmstat counter of `m`'s core, or undefined (noted once) when the core has no vmstat(). */
export function vmstat(m, name) {
  const core = m.core;
  if (typeof core?.vmstat !== "function") {
    if (!vmstatNoted) console.log("  note: Machine.core.vmstat() is gone: the bench's vmstat sanity checks are skipped");
    vmstatNoted = true;
    return undefined;
  }
  return core.vmstat(name);
}

/** Zeroes `m`'s rmap cost counters (Machine.costs() counts from here). */
export function resetCosts(m) {
  if (typeof m.core?.resetCosts !== "function") throw new Error("Machine.core.resetCosts() is gone");
  m.core.resetCosts();
}

/** The core's WebAssembly exports object (`core.e`). */
export function coreExports(m) {
  const e = m.core?.e;
  if (typeof e !== "object" || e === null) throw new Error("Machine.core.e (the core's WebAssembly exports) is gone");
  return e;
}

/** Replaces the core's exports object (`readonly` in TypeScript only). */
export function setCoreExports(m, e) {
  m.core.e = e;
}

/**
 * The core's scratch batch buffer (where dup_pte_batch, zap_pte_batch and
 * page_mapcount_batch read their pfns): { core, index } for `core.u32` (to be
 * re-read per use: memory growth replaces it) at u32 index `index`, that is
 * `core.scratchIndex`, or `core.scratchBase` on a core that has that instead
 * (a TypeScript-private field), so that the timed fills are the same typed-array
 * stores on every build; { core, index: undefined } for a core that only has
 * `core.scratchSet(i, v)`.
 */
export function scratchBuffer(m) {
  const core = m.core;
  const index = core?.scratchIndex ?? core?.scratchBase;
  if (typeof index === "number" && core.u32 instanceof Uint32Array) return { core, index };
  if (typeof core?.scratchSet === "function") return { core, index: undefined };
  throw new Error("Machine.core has neither scratchIndex/scratchBase and u32 nor scratchSet (the scratch batch buffer)");
}
