// fork throughput: fork + exit of a child of a process with a PMD-mapped region.
import { MiB, GiB, HPAGE, TARGETS, now, fresh, newMachine } from "./harness.mjs";
import { vmstat } from "./internals.mjs";

/** 3. fork + exit of a child of a process with a 1 GiB PMD-mapped region (the target's case of 3b). */
export function caseFork(lib) {
  return { ...forkSizeCase(lib, 1 * GiB, true), id: "fork", target: TARGETS.fork1g };
}

/**
 * 3b. Fork cost against mapped size: fork + exit of a child of a process
 * whose region of `size` bytes is fully touched, PMD-mapped (a `thp`
 * region: one huge PMD per 2 MiB, copy_huge_pmd + a deposit table each) or
 * PTE-mapped (`nothp`: 512 PTEs per 2 MiB, copy_pte_range). One op = one
 * fork + exit.
 */
export function forkSizeCase(lib, size, pmd) {
  const label = size >= GiB ? `${size / GiB} GiB` : `${size / MiB} MiB`;
  let m;
  return {
    id: `fork${pmd ? "Pmd" : "Pte"}${size / MiB}m`,
    name: `fork+exit, ${label} ${pmd ? "PMD" : "PTE"}-mapped`,
    unit: "fork",
    units: 1,
    async setup() {
      m = await newMachine(lib);
      m.mmap("p", "big", size, pmd ? "thp" : "nothp");
      m.touch("p", "big", 0, size, "write");
      const thps = vmstat(m, "NR_ANON_THPS");
      if (thps !== undefined && thps !== (pmd ? size / HPAGE : 0)) throw new Error(`fork case: ${thps} THPs mapped`);
    },
    teardown() { m = undefined; },
    iter() {
      const c = fresh("c");
      const t0 = now();
      m.fork("p", c);
      m.exit(c);
      const t1 = now();
      return { timed: t1 - t0, wall: t1 - t0 };
    },
  };
}

/** The cases of this family, in bench order (the 1 GiB PMD-mapped case first: it has the target). */
export const cases = [
  caseFork,
  ...[64 * MiB, 256 * MiB].map((size) => (lib) => forkSizeCase(lib, size, true)),
  ...[64 * MiB, 256 * MiB, 1 * GiB].map((size) => (lib) => forkSizeCase(lib, size, false)),
];
