// fork throughput: fork + exit of a child of a process with a PMD-mapped region.
import { GiB, HPAGE, now, fresh, newMachine } from "./harness.mjs";
import { vmstat } from "./internals.mjs";

/** 3. fork + exit of a child of a process with a 1 GiB PMD-mapped region. */
export function caseFork(lib) {
  const SIZE = 1 * GiB;
  let m;
  return {
    id: "fork",
    name: "fork+exit, 1 GiB PMD-mapped",
    unit: "fork",
    units: 1,
    async setup() {
      m = await newMachine(lib);
      m.mmap("p", "big", SIZE, "thp");
      m.touch("p", "big", 0, SIZE, "write");
      const thps = vmstat(m, "NR_ANON_THPS");
      if (thps !== undefined && thps !== SIZE / HPAGE) throw new Error("fork case: region is not fully PMD-mapped");
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

/** The cases of this family, in bench order. */
export const cases = [caseFork];
