// The smaps view beside the frame grid: each live process's regions with
// their /proc/PID/smaps lines (Machine.smaps: fs/proc/task_mmu.c, each VMA's
// values in kB as printed, summed over the VMAs of the region), redrawn with
// the frames after every Run/Step/Back/Reset; and the hover text of a frame
// that says what it adds to the Pss of each process mapping it.
import type { Machine, SmapsRegionKey } from "../../src/index.js";
import { el } from "./dom.js";

/** The columns shown (kB). */
const COLUMNS: SmapsRegionKey[] = ["Rss", "Pss", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty", "AnonHugePages"];

/** Draw one row per live process and region (nothing without a machine or a process). */
export function renderSmaps(box: HTMLElement, m: Machine | null): void {
  box.replaceChildren();
  if (!m) return;
  const procs = m.liveProcesses().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (procs.length === 0) return;
  const table = el("table", { class: "smaps" });
  const head = el("tr");
  head.append(el("th", {}, "smaps (kB)"), ...COLUMNS.map((c) => el("th", { title: smapsHelp(c) }, c.replace("_", " "))));
  table.append(head);
  for (const p of procs) {
    const byRegion = new Map<string, Record<string, number>>();
    for (const v of m.smaps(p.name)) {
      if (v.region === null) continue;
      const sum = byRegion.get(v.region) ?? Object.fromEntries(COLUMNS.map((c) => [c, 0]));
      for (const c of COLUMNS) sum[c] += v.fields[c];
      byRegion.set(v.region, sum);
    }
    for (const r of [...p.regions.keys()].sort()) {
      const sum = byRegion.get(r) ?? Object.fromEntries(COLUMNS.map((c) => [c, 0]));
      const row = el("tr", { "data-proc": p.name, "data-region": r });
      row.append(el("td", {}, `${p.name} ${r}`));
      for (const c of COLUMNS) row.append(el("td", { "data-field": c }, String(sum[c])));
      table.append(row);
    }
  }
  box.append(table);
}

function smapsHelp(c: SmapsRegionKey): string {
  switch (c) {
    case "Rss": return "resident: the zero page and the huge zero page do not count";
    case "Pss": return "each 4 KiB page divided by its mapcount (a page mapped once counts whole)";
    case "AnonHugePages": return "mapped by PMDs to anonymous THPs";
    default: return "Shared: mapcount ≥ 2; Private: mapped once; Dirty: the entry or the folio is dirty";
  }
}

/**
 * What one mapped page adds to the Pss of each process that maps it
 * (smaps_account): "mapcount 3 → 4096/3 = 1365.3 B of Pss".
 */
export function pssText(mapcount: number): string {
  if (mapcount <= 0) return "not mapped: no Pss";
  if (mapcount === 1) return "mapcount 1 → private: 4096 B of Pss";
  return `mapcount ${mapcount} → 4096/${mapcount} = ${(4096 / mapcount).toFixed(1)} B of Pss in each process mapping it`;
}
