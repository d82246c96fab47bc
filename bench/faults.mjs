// Fault throughput: 4 KiB write faults (page tables allocated or present, one
// touch() per range or per page), THP write faults, and mTHP write faults
// (one size of multi-size THP enabled alone: each fault maps a whole folio
// with PTEs).
import { KiB, MiB, GiB, PAGE, HPAGE, TARGETS, now, fresh, newMachine } from "./harness.mjs";
import { MTHP_KB, mthpKnobs, checkFolioOrder } from "./mthp.mjs";

/**
 * A case that faults a fresh region of `size` bytes per batch, `size / per`
 * units: mmap (untimed), the timed `fault(m, r, size)`, the optional
 * `check(m, r)` and munmap (untimed, but charged to the time budget). The
 * machine gets `knobs` on top of the profile's.
 */
function freshRegionCase(lib, id, name, { unit, size, per, target, advice, knobs, fault, check }) {
  let m;
  return {
    id, name, unit, units: size / per, per, target,
    async setup() { m = await newMachine(lib, knobs); },
    teardown() { m = undefined; },
    iter() {
      const r = fresh("r");
      m.mmap("p", r, size, advice);
      const t0 = now();
      fault(m, r, size);
      const t1 = now();
      check?.(m, r);
      m.munmap("p", r, 0, size);
      return { timed: t1 - t0, wall: now() - t0 };
    },
  };
}

/** 1. 4 KiB write faults on a fresh no-THP region: one touch() per 256 MiB (page tables allocated on the way). */
export const case4kFaults = (lib) => freshRegionCase(lib, "fault4k", "4 KiB faults (fresh region, 1 touch/256 MiB)", {
  unit: "fault", size: 256 * MiB, per: PAGE, target: TARGETS.fault4k, advice: "nothp",
  fault(m, r, size) { m.touch("p", r, 0, size, "write"); },
});

/** 1b. The same faults with every PTE table already present (MADV_DONTNEED of all but the last page of each 2 MiB). */
export function case4kFaultsSteady(lib) {
  const SIZE = 256 * MiB;
  let m;
  const r = "steady";
  return {
    id: "fault4kSteady",
    name: "4 KiB faults (page tables present)",
    unit: "fault",
    units: (SIZE / HPAGE) * 511,
    target: TARGETS.fault4k,
    async setup() {
      m = await newMachine(lib);
      m.mmap("p", r, SIZE, "nothp");
      m.touch("p", r, 0, SIZE, "write");
    },
    teardown() { m = undefined; },
    iter() {
      const w0 = now();
      for (let off = 0; off < SIZE; off += HPAGE) m.madvise("p", r, off, HPAGE - PAGE, "dontneed");
      const t0 = now();
      m.touch("p", r, 0, SIZE, "write");
      const t1 = now();
      return { timed: t1 - t0, wall: t1 - w0 };
    },
  };
}

/** 1c. 4 KiB faults, one touch() call per page (the per-call API overhead included). */
export const case4kFaultsPerPage = (lib) => freshRegionCase(lib, "fault4kPerPage", "4 KiB faults (1 touch() per page)", {
  unit: "fault", size: 64 * MiB, per: PAGE, target: TARGETS.fault4kPerPage, advice: "nothp",
  fault(m, r, size) { for (let off = 0; off < size; off += PAGE) m.touch("p", r, off, PAGE, "write"); },
});

/** 2. THP write faults: touch 4 KiB in each 2 MiB of a fresh 1 GiB thp region; munmap (untimed) frees them. */
export const caseThpFaults = (lib) => freshRegionCase(lib, "faultThp", "THP faults (4 KiB touch per 2 MiB)", {
  unit: "THP fault", size: 1 * GiB, per: HPAGE, target: TARGETS.faultThp, advice: "thp",
  fault(m, r, size) { for (let off = 0; off < size; off += HPAGE) m.touch("p", r, off, PAGE, "write"); },
});

/**
 * 5. mTHP write faults of `kb` KiB: only that size enabled (`always`; PMD-size
 * THP and every other size `never`), one touch() for a fresh 256 MiB region
 * (no madvise), as case 1: one op = one fault of a whole folio (one
 * do_anonymous_folio). The first and last folio are checked to have the
 * size's order (untimed). `null` on a build that has no mTHP (bench.mjs
 * passes `mthp`: undefined, or the reason it is unavailable).
 */
const mthpFaults = (kb) => (lib, { mthp } = {}) => (mthp !== undefined ? null : freshRegionCase(lib, `faultMthp${kb}k`,
  `mTHP ${kb} KiB faults (fresh region, 1 touch/256 MiB)`, {
    unit: "folio fault", size: 256 * MiB, per: kb * KiB, target: kb === 64 ? TARGETS.faultMthp64k : undefined, advice: null,
    knobs: mthpKnobs(kb),
    fault(m, r, size) { m.touch("p", r, 0, size, "write"); },
    check(m, r) { checkFolioOrder(m, r, 0, kb); checkFolioOrder(m, r, 256 * MiB - kb * KiB, kb); },
  }));

/** The cases of this family, in bench order. */
export const cases = [case4kFaults, case4kFaultsSteady, case4kFaultsPerPage, caseThpFaults, ...MTHP_KB.map(mthpFaults)];
