// The observations view: the last `dump` in the CLI's `--format table` form
// and, when the last operation was an `inspect`, its block; the same text
// `thpemu run --format table` prints for them.
import { formatTable, formatInspect, formatEmptyDump } from "../../src/index.js";
import type { InspectRecord } from "../../src/index.js";
import type { DumpShown } from "../session.js";

export interface ObservationsElements {
  text: HTMLElement;
  title: HTMLElement;
}

export function renderObservations(els: ObservationsElements, dump: DumpShown | null, inspect: InspectRecord | null): void {
  const lines: string[] = [];
  if (dump) {
    els.title.textContent = `(dump ${dump.dump}${dump.label ? ": " + dump.label : ""})`;
    lines.push(...(dump.records.length ? formatTable(dump.records) : formatEmptyDump(dump.dump, dump.label)));
  } else els.title.textContent = "(the last dump)";
  if (inspect) lines.push("", ...formatInspect(inspect));
  els.text.textContent = lines.length ? lines.join("\n") : "(no dump yet)";
}
