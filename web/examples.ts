// The examples the page offers: every examples/*.scn of the package and the
// page's own web/examples/*.scn, bundled as text by Vite (import.meta.glob
// with ?raw), so the built page needs no server-side listing.
import { parseScenario, PROFILES } from "../src/index.js";
import type { KernelName, KnobName } from "../src/index.js";

/** Example name (file name without .scn) -> scenario text. */
export const EXAMPLES: Readonly<Record<string, string>> = Object.fromEntries(
  Object.entries({
    ...import.meta.glob("../examples/*.scn", { query: "?raw", import: "default", eager: true }),
    ...import.meta.glob("./examples/*.scn", { query: "?raw", import: "default", eager: true }),
  } as Record<string, string>)
    .map(([path, text]) => [path.replace(/^.*\//, "").replace(/\.scn$/, ""), text]),
);

/** The example the page opens with: the DoubleMap story the page explains. */
export const DEFAULT_EXAMPLE = "seed-doublemap";

/** The knobs a scenario's `sysfs` lines set (none when it does not parse: its error shows on Run). */
function knobsSetBy(text: string): KnobName[] {
  try {
    return parseScenario(text, "scenario").flatMap((o) => (o.op === "sysfs" ? [o.knob] : []));
  } catch {
    return [];
  }
}

/**
 * The kernel to run `text` under. An example that sets a knob the `current`
 * kernel lacks (say khugepaged/max_ptes_none under linux-4.5) would only
 * fail on that line, so it gets the first of `kernels` that has every knob
 * it sets, with a note that says why; otherwise `current`, and no note.
 */
export function kernelFor(text: string, current: string, kernels: readonly string[]): { kernel: string; note: string | null } {
  const need = knobsSetBy(text);
  const has = (k: string, n: KnobName) => PROFILES[k as KernelName]?.knobs.includes(n) ?? false;
  const hasAll = (k: string) => need.every((n) => has(k, n));
  if (hasAll(current)) return { kernel: current, note: null };
  const other = kernels.find(hasAll);
  if (!other) return { kernel: current, note: null };
  const lacking = [...new Set(need.filter((n) => !has(current, n)))];
  return { kernel: other, note: `kernel switched to ${other}: ${current} has no ${lacking.join(", ")}` };
}
