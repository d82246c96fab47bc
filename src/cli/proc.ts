// `thpemu run --proc DIR`: each dump's /proc tree (Machine.procfs) written
// as DIR/N/, sparse: only the extents are written, the rest of each file is
// a hole (ftruncate to the file's size). Errors come back as one line for
// the user, never as a stack trace.
import * as fs from "node:fs";
import * as path from "node:path";
import type { ProcTree } from "../machine.js";

function reason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code ? `${err.code}${err.path ? ` (${err.path})` : ""}` : String(err.message ?? e);
}

/** Create DIR if needed and check it is a writable directory: null, or why not. */
export function prepareProcDir(dir: string): string | null {
  try {
    fs.mkdirSync(dir, { recursive: true });
    if (!fs.statSync(dir).isDirectory()) return "not a directory";
    fs.accessSync(dir, fs.constants.W_OK);
    return null;
  } catch (e) {
    return `cannot create or write the directory: ${reason(e)}`;
  }
}

/** Write `tree` under DIR/NAME/ (replacing an earlier export of that dump): null, or why it failed. */
export function writeProcTree(dir: string, name: string, tree: ProcTree): string | null {
  const root = path.join(dir, name);
  try {
    fs.rmSync(root, { recursive: true, force: true });
    for (const [rel, file] of tree) {
      const p = path.join(root, rel);
      fs.mkdirSync(path.dirname(p), { recursive: true });
      const fd = fs.openSync(p, "w", 0o444);
      try {
        for (const e of file.extents) {
          for (let done = 0; done < e.bytes.length;) done += fs.writeSync(fd, e.bytes, done, e.bytes.length - done, e.offset + done);
        }
        fs.ftruncateSync(fd, file.size);
      } finally {
        fs.closeSync(fd);
      }
    }
    return null;
  } catch (e) {
    return `cannot write ${root}: ${reason(e)}`;
  }
}
