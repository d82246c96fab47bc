// Dump throughput: the page records of a `dump` written to a file as JSONL,
// the way `thpemu run` writes them (one record a line, buffered to 1 MiB
// chunks), for a 1 GiB region of 4 KiB pages (262,144 page records).
import { closeSync, openSync, unlinkSync, writeSync, ftruncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GiB, PAGE, TARGETS, now, fresh, newMachine } from "./harness.mjs";

/**
 * 6. dump to a file, as each build's `thpemu run` writes it: on a build with
 * JsonlEncoder, Machine.observeEach() writing the JSONL bytes straight from
 * the page-table walk, then its chunks written; on one from before it,
 * Machine.observe() (the record objects) and each record's text (recordJson,
 * or JSON.stringify on a build without it) in 1 MiB chunks. Written to a temp
 * file. One op = one page record.
 */
export function caseDump(lib) {
  const SIZE = 1 * GiB;
  const toJson = typeof lib.recordJson === "function" ? lib.recordJson : (r) => JSON.stringify(r);
  const streaming = typeof lib.JsonlEncoder === "function";
  let m, fd, file;
  return {
    id: "dump",
    name: "dump to a file (1 GiB of 4 KiB pages)",
    unit: "page record",
    units: SIZE / PAGE,
    target: TARGETS.dump,
    async setup() {
      m = await newMachine(lib);
      m.mmap("p", "r", SIZE, "nothp");
      m.touch("p", "r", 0, SIZE, "write");
      file = join(tmpdir(), `thpemu-bench-${fresh("dump")}-${process.pid}.jsonl`);
      fd = openSync(file, "w");
    },
    teardown() {
      closeSync(fd);
      unlinkSync(file);
      m = undefined;
    },
    iter() {
      ftruncateSync(fd, 0);
      if (streaming) {
        // this build's `thpemu run`: the dump's JSONL bytes straight from the walk, then its chunks written
        const t0 = now();
        const enc = new lib.JsonlEncoder();
        m.observeEach("bench", enc);
        let pos = 0;
        for (const chunk of enc.take()) pos += writeSync(fd, chunk, 0, chunk.length, pos);
        const t1 = now();
        if (enc.pageRecords !== SIZE / PAGE) throw new Error(`dump case: ${enc.pageRecords} page records, expected ${SIZE / PAGE}`);
        return { timed: t1 - t0, wall: t1 - t0 };
      }
      const t0 = now();
      const recs = m.observe("bench");
      let buf = [], size = 0, pages = 0, pos = 0;
      for (const r of recs) {
        if (r.type === "page") pages++;
        const line = toJson(r);
        buf.push(line, "\n");
        size += line.length + 1;
        if (size >= 1 << 20) { pos += writeSync(fd, buf.join(""), pos); buf = []; size = 0; }
      }
      writeSync(fd, buf.join(""), pos);
      const t1 = now();
      if (pages !== SIZE / PAGE) throw new Error(`dump case: ${pages} page records, expected ${SIZE / PAGE}`);
      return { timed: t1 - t0, wall: t1 - t0 };
    },
  };
}

/** The cases of this family, in bench order. */
export const cases = [caseDump];
