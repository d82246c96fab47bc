// The status line's texts, from the session's state.
import type { Session } from "../session.js";

/** After a reset: what is about to run, and on what. */
export function startText(s: Session): string {
  return `${s.ops.length} operations · ${s.settings.kernel} · ${s.machine?.scheme} scheme`;
}

/** After Step, Back or Run: where the run stands (and, for Run, how long the operations took). */
export function progressText(s: Session, ms?: number): string {
  const where = s.done ? "done" : `next: line ${s.nextLine}`;
  const ran = s.pc === 0 ? "at the start" : `ran line ${s.currentLine}`;
  return `${ran} · ${s.pc}/${s.ops.length} operations · ${where}` + (ms !== undefined ? ` · ${ms.toFixed(0)} ms` : "");
}
