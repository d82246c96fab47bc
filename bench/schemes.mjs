// Per mapcount scheme: the rmap micro-ops of every scheme, called directly on
// the core's exports (ns/op and the ratio to doublemap), and a fork of a
// 1 GiB PMD-mapped region through the Machine API.
import { GiB, KERNEL, gc, now, fresh, microRounds, printTable, fmtNs } from "./harness.mjs";
import { coreExports, scratchBuffer } from "./internals.mjs";

export const SCHEME_NAMES = ["naive", "doublemap", "subpages", "large", "nopagemapcount"];

const MM1 = 1001, MM2 = 1002;

/** A scheme's 1 GiB machine, with its core's exports `e`, `thp()` (a PMD-mapped THP of MM1) and `fill(head)` (scratch ← its 512 pfns). */
export async function schemeMachine(lib, scheme) {
  gc();
  const m = await lib.Machine.create({ kernel: KERNEL, memory: 1 * GiB, scheme });
  const e = coreExports(m);
  e.cost_accounting(0); // time the scheme's own work, not the cost bookkeeping of --stats
  const thp = () => { const h = e.alloc_thp_pmd_mapped(MM1, 1, 0x1000, false); if (h < 0) throw new Error("no THP"); return h; };
  const { core, index: S } = scratchBuffer(m);
  const fill = S !== undefined
    ? (head) => { const u = core.u32; for (let i = 0; i < 512; i++) u[S + i] = head + i; }
    : (head) => { for (let i = 0; i < 512; i++) core.scratchSet(i, head + i); };
  return { lib, scheme, m, e, thp, fill };
}

/**
 * The ops, in order, on a scheme's machine: each `prepare(x)` sets up its
 * state and returns the rounds to time (`round() -> { timed, units }`, one
 * per name in `names`) and `done()`, which undoes the state.
 */
export const OPS = [
  { // PMD map + unmap: one more PMD mapping of a PMD-mapped THP (copy_huge_pmd), then zap it
    names: ["PMD map+unmap"],
    prepare({ e, thp }) {
      const h = thp();
      return {
        rounds: [() => {
          const t = now();
          for (let i = 0; i < 1000; i++) { e.copy_huge_pmd(h, MM2); e.zap_huge_pmd(h, MM2); }
          return { timed: now() - t, units: 1000 };
        }],
        done() { e.zap_huge_pmd(h, MM1); },
      };
    },
  },
  { // PTE map + unmap: 512 PTEs of a PTE-mapped THP mapped again by another mm and unmapped (batches)
    names: ["PTE map+unmap"],
    prepare({ e, thp, fill }) {
      const h = thp();
      e.split_huge_pmd(h, MM1);
      return {
        rounds: [() => {
          const t = now();
          for (let i = 0; i < 20; i++) { fill(h); e.dup_pte_batch(512, MM2); fill(h); e.zap_pte_batch(512, MM2); }
          return { timed: now() - t, units: 20 * 512 };
        }],
        done() { fill(h); e.zap_pte_batch(512, MM1); },
      };
    },
  },
  { // PMD split: the only PMD of a THP becomes 512 PTEs (the rmap half of __split_huge_pmd_locked)
    names: ["PMD split"],
    prepare({ e, thp, fill }) {
      return {
        rounds: [() => {
          const heads = [];
          for (let i = 0; i < 64; i++) heads.push(thp());
          const t = now();
          for (const h of heads) e.split_huge_pmd(h, MM1);
          const timed = now() - t;
          for (const h of heads) { fill(h); e.zap_pte_batch(512, MM1); }
          return { timed, units: heads.length };
        }],
      };
    },
  },
  { // page_mapcount and folio/total mapcount on a THP mapped by a PMD and by 512 PTEs (the DoubleMap state)
    names: ["page_mapcount", "folio/total mapcount"],
    prepare({ e, thp, fill }) {
      const h = thp();
      e.copy_huge_pmd(h, MM2);
      e.split_huge_pmd(h, MM2);
      return {
        rounds: [
          () => {
            const t = now();
            for (let i = 0; i < 50; i++) { fill(h); e.page_mapcount_batch(512); }
            return { timed: now() - t, units: 50 * 512 };
          },
          () => {
            const t = now();
            let x = 0;
            for (let i = 0; i < 2000; i++) x += e.total_mapcount(h);
            if (x !== 2000 * 513) throw new Error(`total_mapcount ${x / 2000}`);
            return { timed: now() - t, units: 2000 };
          },
        ],
        done() { fill(h); e.zap_pte_batch(512, MM2); e.zap_huge_pmd(h, MM1); },
      };
    },
  },
  { // fork of a 1 GiB PMD-mapped region (512 THPs): the whole fork, host page tables included
    names: ["fork 1 GiB PMD-mapped"],
    async prepare({ lib, scheme }) {
      gc();
      const big = await lib.Machine.create({ kernel: KERNEL, memory: 2 * GiB, scheme });
      coreExports(big).cost_accounting(0);
      big.spawn("p");
      big.mmap("p", "A", 1 * GiB, "thp");
      big.touch("p", "A", 0, 1 * GiB, "write");
      return {
        rounds: [() => {
          const c = fresh("c");
          const t = now();
          big.fork("p", c);
          const timed = now() - t;
          big.exit(c);
          return { timed, units: 1 };
        }],
      };
    },
  },
];

/**
 * One scheme's ns per op on each side (a build `lib`, and `schemes`: the side's
 * own instance of this module, so that the timed closures of the two builds
 * do not share JIT feedback), the sides' rounds interleaved. One row per side.
 */
async function schemeRows(sides, scheme) {
  const xs = [];
  for (const s of sides) xs.push(await s.schemes.schemeMachine(s.lib, scheme));
  const rows = sides.map(() => ({ scheme }));
  for (let j = 0; j < OPS.length; j++) {
    const preps = [];
    for (let i = 0; i < sides.length; i++) preps.push(await sides[i].schemes.OPS[j].prepare(xs[i]));
    OPS[j].names.forEach((name, k) => {
      microRounds(preps.map((p) => p.rounds[k])).forEach((ns, i) => { rows[i][name] = ns; });
    });
    for (const p of preps) p.done?.();
  }
  return rows;
}

/**
 * The per-scheme table. With one side: ns per op and the ratio to doublemap.
 * With two ([this, baseline]): each op on both, and the ratio this/baseline
 * (recorded in `ratios`).
 */
export async function schemeSection(sides, ratios) {
  const ops = OPS.flatMap((op) => op.names);
  const bySide = sides.map(() => []);
  for (const s of SCHEME_NAMES) {
    let rows;
    try { rows = await schemeRows(sides, s); } catch (err) { rows = sides.map(() => ({ scheme: s, error: String(err?.message ?? err) })); }
    rows.forEach((r, i) => bySide[i].push(r));
    console.log(`  done: scheme ${s}`);
  }
  if (sides.length === 1) {
    const rows = bySide[0];
    const base = rows.find((r) => r.scheme === "doublemap");
    console.log(`\nPer mapcount scheme (${KERNEL}; ns per op, best of 5-9 rounds; ×: ratio to doublemap):`);
    printLegend();
    printTable(rows.map((r) => {
      const out = { scheme: r.scheme };
      for (const op of ops) {
        out[op] = r.error ? "error" : `${fmtNs(r[op])} (×${(r[op] / base[op]).toFixed(2)})`;
      }
      if (r.error) out.error = r.error;
      return out;
    }));
    return;
  }
  console.log(`\nPer mapcount scheme (${KERNEL}; ns per op, best of 20-36 rounds of ≥ 10 ms a build, interleaved; ` +
    "this/baseline: ratio of the times, < 1 = this build faster):");
  printLegend();
  const table = [];
  bySide[0].forEach((a, j) => {
    const b = bySide[1][j];
    if (a.error || b.error) {
      table.push({ scheme: a.scheme, op: "error", error: [a.error && `this: ${a.error}`, b.error && `baseline: ${b.error}`].filter(Boolean).join("; ") });
      return;
    }
    ops.forEach((op, k) => table.push({
      scheme: k === 0 ? a.scheme : "", op, this: fmtNs(a[op]), baseline: fmtNs(b[op]), "this/baseline": ratios.add("schemes", a[op], b[op]),
    }));
  });
  printTable(table);
}

function printLegend() {
  console.log("  PMD map+unmap: copy_huge_pmd + zap_huge_pmd of a PMD-mapped THP; PTE map+unmap: per PTE, dup_pte_batch +");
  console.log("  zap_pte_batch of a PTE-mapped THP; PMD split: split_huge_pmd of an exclusive PMD; page_mapcount: per page,");
  console.log("  page_mapcount_batch, THP mapped by a PMD and 512 PTEs; folio/total mapcount: one call, same THP.");
}
