// PMD split throughput: one 4 KiB operation in each 2 MiB of a fully touched
// 1 GiB THP region, through mprotect or MADV_DONTNEED.
import { GiB, PAGE, HPAGE, TARGETS, now, fresh, newMachine } from "./harness.mjs";
import { vmstat } from "./internals.mjs";

/**
 * Per batch: mmap and touch a fresh 1 GiB thp region (untimed), the timed
 * `split(m, r, off)` at each 2 MiB, a check that every PMD split
 * (THP_SPLIT_PMD), munmap (untimed).
 */
function splitCase(lib, { split, ...info }) {
  const SIZE = 1 * GiB;
  let m;
  return {
    ...info,
    unit: "split",
    units: SIZE / HPAGE,
    async setup() { m = await newMachine(lib); },
    teardown() { m = undefined; },
    iter() {
      const w0 = now();
      const r = fresh("r");
      m.mmap("p", r, SIZE, "thp");
      m.touch("p", r, 0, SIZE, "write");
      const s0 = vmstat(m, "THP_SPLIT_PMD");
      const t0 = now();
      for (let off = 0; off < SIZE; off += HPAGE) split(m, r, off);
      const t1 = now();
      if (s0 !== undefined) {
        const splits = vmstat(m, "THP_SPLIT_PMD") - s0;
        if (splits !== SIZE / HPAGE) throw new Error(`split case: ${splits} PMD splits, expected ${SIZE / HPAGE}`);
      }
      m.munmap("p", r, 0, SIZE);
      return { timed: t1 - t0, wall: now() - w0 };
    },
  };
}

/** 4. PMD splits: mprotect(r) of one 4 KiB page in each 2 MiB of a fully touched 1 GiB thp region. */
export const caseSplits = (lib) => splitCase(lib, {
  id: "splitMprotect",
  name: "PMD splits (mprotect 4 KiB per 2 MiB)",
  target: TARGETS.splitMprotect,
  split(m, r, off) { m.mprotect("p", r, off + HPAGE / 2, PAGE, "r"); },
});

/** 4b. The same PMD splits through MADV_DONTNEED of one 4 KiB page: no VMA split/merge, one page zapped. */
export const caseSplitsDontneed = (lib) => splitCase(lib, {
  id: "splitDontneed",
  name: "PMD splits (MADV_DONTNEED 4 KiB per 2 MiB)",
  split(m, r, off) { m.madvise("p", r, off + HPAGE / 2, PAGE, "dontneed"); },
});

/** The cases of this family, in bench order. */
export const cases = [caseSplits, caseSplitsDontneed];
