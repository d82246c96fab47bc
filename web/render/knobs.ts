// The THP knobs view: the knobs the machine's kernel profile has, with their
// current values (machine.knobs); the ones a `sysfs` line changed from the
// profile's initial values are highlighted. Knobs the profile lacks are left
// out. The mTHP sizes share one entry while they agree, since seven equal
// `hugepages-NkB/enabled` entries would crowd out the ones that matter.
// Each entry carries data-knobs (its knob names), data-value and data-changed.
import { KNOBS, KNOB_NAMES, isMthpKnob } from "../../src/index.js";
import type { Machine, KnobName } from "../../src/index.js";
import { el } from "./dom.js";

export interface KnobsElements {
  knobs: HTMLElement;
  title: HTMLElement;
}

/** One entry of the panel: one knob, or all mTHP sizes when they agree. */
export interface KnobEntry {
  names: KnobName[];
  label: string;
}

/** The knobs `m`'s profile has, in KNOB_NAMES order. */
const profileKnobs = (m: Machine): KnobName[] => KNOB_NAMES.filter((n) => m.profile.knobs.includes(n));

/** The panel's entries for `m`'s profile, in KNOB_NAMES order. */
export function knobEntries(m: Machine): KnobEntry[] {
  const now = m.knobs;
  const names = profileKnobs(m);
  const changed = (n: KnobName) => now[n] !== m.profile.initialKnobs[n];
  const mthp = names.filter(isMthpKnob);
  const groupMthp = mthp.length > 1 && mthp.every((n) => now[n] === now[mthp[0]] && changed(n) === changed(mthp[0]));
  const sizeOf = (k: KnobName) => k.replace(/^hugepages-(\d+)kB\/enabled$/, "$1");
  const entries: KnobEntry[] = [];
  for (const n of names) {
    if (!isMthpKnob(n) || !groupMthp) entries.push({ names: [n], label: n });
    else if (n === mthp[0]) entries.push({ names: mthp, label: `hugepages-{${sizeOf(mthp[0])}…${sizeOf(mthp[mthp.length - 1])}}kB/enabled` });
  }
  return entries;
}

export function renderKnobs(els: KnobsElements, m: Machine | null): void {
  els.knobs.replaceChildren();
  if (!m) { els.title.textContent = ""; els.knobs.append(el("span", { class: "muted" }, "(no machine)")); return; }
  const now = m.knobs, init = m.profile.initialKnobs;
  const names = profileKnobs(m);
  const nChanged = names.filter((n) => now[n] !== init[n]).length;
  els.title.textContent = `(${nChanged ? `${nChanged} changed by sysfs, highlighted` : "none changed"}` +
    (names.length < KNOB_NAMES.length ? `; the others are absent in ${m.profile.name}` : "") + ")";
  for (const { names: ns, label } of knobEntries(m)) {
    const n = ns[0];
    const isChanged = now[n] !== init[n];
    const chip = el("span", {
      class: "knob" + (isChanged ? " changed" : ""),
      "data-knobs": ns.join(" "), "data-value": String(now[n]), "data-changed": String(isChanged),
      title: (ns.length > 1 ? ns.join(", ") + ": " : "") + KNOBS[n].what +
        (isChanged ? ` · changed from ${init[n]}` : ` · ${m.profile.name}'s initial value`),
    });
    chip.append(el("span", { class: "kname" }, label), " ", el("span", { class: "kval" }, String(now[n])));
    if (isChanged) chip.append(el("span", { class: "was" }, ` (was ${init[n]})`));
    els.knobs.append(chip);
  }
}
