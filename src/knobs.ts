// THP knobs: the files under /sys/kernel/mm/transparent_hugepage/ that the
// scenario line `sysfs KNOB VALUE` sets (docs/scenario-format.md, "THP
// knobs"). One table says which knobs exist, what each accepts and which
// kernels have it; the fault, collapse and shrinker code reads the values
// from the machine's current ThpKnobs, never from the profile's name.

/** The mTHP sizes (orders 2 to 8) the kernel offers for anonymous memory. */
export const MTHP_SIZES_KB = [16, 32, 64, 128, 256, 512, 1024] as const;

export type ThpMode = "always" | "madvise" | "never";
export type SizeMode = "always" | "inherit" | "madvise" | "never";

/** Every knob's current value, keyed by its path under /sys/kernel/mm/transparent_hugepage/. */
export interface ThpKnobs {
  /** PMD-size THP on fault: every anonymous VMA, MADV_HUGEPAGE VMAs only, or none. */
  enabled: ThpMode;
  /** The PMD size alone; `inherit` follows `enabled`. */
  "hugepages-2048kB/enabled": SizeMode;
  "hugepages-16kB/enabled": SizeMode;
  "hugepages-32kB/enabled": SizeMode;
  "hugepages-64kB/enabled": SizeMode;
  "hugepages-128kB/enabled": SizeMode;
  "hugepages-256kB/enabled": SizeMode;
  "hugepages-512kB/enabled": SizeMode;
  "hugepages-1024kB/enabled": SizeMode;
  /** A read fault of a THP-eligible block may map the huge zero page. */
  use_zero_page: 0 | 1;
  /** The deferred-split shrinker also splits fully mapped THPs that are mostly zero-filled (6.12+). */
  shrink_underused: 0 | 1;
  /** How many zero-filled subpages make a THP "underused" (511 turns that rule off). */
  "khugepaged/max_ptes_none": number;
}
export type KnobName = keyof ThpKnobs;

interface KnobSpec {
  /** The values the kernel accepts, or a numeric range. */
  values: readonly string[] | { min: number; max: number };
  /** Since which mechanism the kernel has the file (Profile.knobs lists the ones a profile has). */
  what: string;
}

const SIZE_MODES = ["always", "inherit", "madvise", "never"] as const;

/** The knob table: the allowed values of each knob, in the order `thpemu probe` prints them. */
export const KNOBS: Record<KnobName, KnobSpec> = {
  enabled: { values: ["always", "madvise", "never"], what: "PMD-size THP on fault" },
  "hugepages-2048kB/enabled": { values: SIZE_MODES, what: "PMD-size THP on fault, per size (6.8+)" },
  "hugepages-16kB/enabled": { values: SIZE_MODES, what: "mTHP of 16 KiB (6.8+)" },
  "hugepages-32kB/enabled": { values: SIZE_MODES, what: "mTHP of 32 KiB (6.8+)" },
  "hugepages-64kB/enabled": { values: SIZE_MODES, what: "mTHP of 64 KiB (6.8+)" },
  "hugepages-128kB/enabled": { values: SIZE_MODES, what: "mTHP of 128 KiB (6.8+)" },
  "hugepages-256kB/enabled": { values: SIZE_MODES, what: "mTHP of 256 KiB (6.8+)" },
  "hugepages-512kB/enabled": { values: SIZE_MODES, what: "mTHP of 512 KiB (6.8+)" },
  "hugepages-1024kB/enabled": { values: SIZE_MODES, what: "mTHP of 1024 KiB (6.8+)" },
  use_zero_page: { values: ["0", "1"], what: "the huge zero page on read faults" },
  shrink_underused: { values: ["0", "1"], what: "the underused-THP shrinker (6.12+)" },
  "khugepaged/max_ptes_none": { values: { min: 0, max: 511 }, what: "zero-filled subpages that make a THP underused" },
};
export const KNOB_NAMES = Object.keys(KNOBS) as KnobName[];

/** The mTHP knobs (hugepages-NkB/enabled, N < 2048). */
export function isMthpKnob(name: KnobName): boolean {
  return /^hugepages-\d+kB\/enabled$/.test(name) && name !== "hugepages-2048kB/enabled";
}

/** The values a knob accepts, for messages. */
export function knobValuesText(name: KnobName): string {
  const v = KNOBS[name].values;
  return Array.isArray(v) ? (v as readonly string[]).join(", ") : `${(v as { min: number }).min} … ${(v as { max: number }).max}`;
}

/**
 * Parse and validate `sysfs KNOB VALUE` (syntax only: whether this kernel
 * has the knob is the machine's question). Throws with the scenario
 * format's messages.
 */
export function parseKnob(knob: string, value: string): { knob: KnobName; value: string | number } {
  if (!Object.prototype.hasOwnProperty.call(KNOBS, knob)) {
    throw new Error(`unknown sysfs knob '${knob}' (expected ${KNOB_NAMES.join(", ")})`);
  }
  const name = knob as KnobName;
  const spec = KNOBS[name].values;
  if (Array.isArray(spec)) {
    if (!(spec as readonly string[]).includes(value)) {
      throw new Error(`bad value '${value}' for sysfs knob '${name}' (expected ${knobValuesText(name)})`);
    }
    return { knob: name, value: name === "use_zero_page" || name === "shrink_underused" ? Number(value) : value };
  }
  const { min, max } = spec as { min: number; max: number };
  if (!/^[0-9]+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw new Error(`bad value '${value}' for sysfs knob '${name}' (expected ${knobValuesText(name)})`);
  }
  return { knob: name, value: Number(value) };
}

/** The values of the reference machine (docs/scenario-format.md): the linux-6.18 profile's initial knobs. */
export const REFERENCE_KNOBS: ThpKnobs = {
  enabled: "madvise",
  "hugepages-2048kB/enabled": "inherit",
  "hugepages-16kB/enabled": "never",
  "hugepages-32kB/enabled": "never",
  "hugepages-64kB/enabled": "never",
  "hugepages-128kB/enabled": "never",
  "hugepages-256kB/enabled": "never",
  "hugepages-512kB/enabled": "never",
  "hugepages-1024kB/enabled": "never",
  use_zero_page: 1,
  shrink_underused: 1,
  "khugepaged/max_ptes_none": 511,
};

/**
 * Whether a VMA with these MADV_HUGEPAGE/MADV_NOHUGEPAGE flags may get a
 * PMD-size THP on fault: thp_vma_allowable_order(…, TVA_ENFORCE_SYSFS,
 * PMD_ORDER) for an anonymous VMA. The per-size setting decides; `inherit`
 * takes the top-level mode (hugepage_global_always, or
 * hugepage_global_enabled with VM_HUGEPAGE); VM_NOHUGEPAGE always wins
 * (vma_thp_disabled).
 */
export function pmdThpAllowed(knobs: ThpKnobs, hugepage: boolean, nohugepage: boolean): boolean {
  if (nohugepage) return false;
  return sizeAllowed(knobs["hugepages-2048kB/enabled"], knobs.enabled, hugepage);
}

/**
 * The mTHP orders (2..8) a VMA may get on fault, highest first: the
 * anonymous half of thp_vma_allowable_orders(…, TVA_IN_PF |
 * TVA_ENFORCE_SYSFS, BIT(PMD_ORDER) - 1) — each size's own setting, with
 * `inherit` following `enabled`; VM_NOHUGEPAGE forbids every size.
 */
export function mthpOrdersAllowed(knobs: ThpKnobs, hugepage: boolean, nohugepage: boolean): number[] {
  if (nohugepage) return [];
  const out: number[] = [];
  for (let i = MTHP_SIZES_KB.length - 1; i >= 0; i--) {
    const kb = MTHP_SIZES_KB[i];
    const mode = (knobs as unknown as Record<string, SizeMode>)[`hugepages-${kb}kB/enabled`];
    if (sizeAllowed(mode, knobs.enabled, hugepage)) out.push(Math.log2(kb / 4));
  }
  return out;
}

function sizeAllowed(mode: SizeMode, global: ThpMode, hugepage: boolean): boolean {
  switch (mode) {
    case "always": return true;
    case "madvise": return hugepage;
    case "never": return false;
    case "inherit": return global === "always" || (global === "madvise" && hugepage);
  }
}
