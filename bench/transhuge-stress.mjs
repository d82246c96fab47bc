// The transhuge-stress scenario (tools/testing/selftests/mm/transhuge-stress.c).
import { GiB, PAGE, HPAGE, now, fresh, newMachine } from "./harness.mjs";

/**
 * 5. transhuge-stress: fault a THP in each 2 MiB of 1 GiB, MADV_DONTNEED all
 * but its last 4 KiB page (a PMD split + deferred split queueing), then the
 * shrinker splits them all. One op = the whole sequence over 1 GiB (mmap
 * included, the final munmap not).
 */
export function caseTranshugeStress(lib) {
  const SIZE = 1 * GiB;
  let m;
  return {
    id: "transhugeStress",
    name: "transhuge-stress 1 GiB (fault, dontneed, shrink)",
    unit: "sequence",
    units: 1,
    blocks: SIZE / HPAGE,
    async setup() { m = await newMachine(lib); },
    teardown() { m = undefined; },
    iter() {
      const r = fresh("r");
      const t0 = now();
      m.mmap("p", r, SIZE, "thp");
      for (let off = 0; off < SIZE; off += HPAGE) {
        m.touch("p", r, off, PAGE, "write");
        m.madvise("p", r, off, HPAGE - PAGE, "dontneed");
      }
      const { split } = m.shrink();
      const t1 = now();
      if (split !== SIZE / HPAGE) throw new Error(`transhuge-stress: shrinker split ${split} THPs, expected ${SIZE / HPAGE}`);
      m.munmap("p", r, 0, SIZE);
      return { timed: t1 - t0, wall: now() - t0 };
    },
  };
}

/** The cases of this family, in bench order. */
export const cases = [caseTranshugeStress];
