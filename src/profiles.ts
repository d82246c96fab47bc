// Kernel policy profiles: what differs between the kernels the emulator can
// be. One table each; the code asks the profile, never the kernel's name.
// A profile also names the THP knobs its kernel has and their initial
// values (src/knobs.ts), and the quirks a host kernel build may differ in
// (HostQuirks: measured by `thpemu probe`, docs/host.md).
import { KNOB_NAMES, REFERENCE_KNOBS, type KnobName, type ThpKnobs } from "./knobs.js";
import type { CoreConfig } from "./core/frames.js";

export type KernelName = "linux-6.18" | "linux-4.5";
export const KERNELS: KernelName[] = ["linux-6.18", "linux-4.5"];

/** Mapcount schemes (assembly/rmap/*.ts); docs/schemes.md. */
export type SchemeName = "naive" | "doublemap" | "subpages" | "large" | "nopagemapcount";
export const SCHEMES: SchemeName[] = ["naive", "doublemap", "subpages", "large", "nopagemapcount"];

export interface Profile {
  name: KernelName;
  /** Write to a shared PMD-mapped THP: split the writer's PMD and copy one 4 KiB page (5.8+), or copy the whole 2 MiB (4.5). */
  cowSplitsPmd: boolean;
  /** PG_anon_exclusive (5.19+): exclusive anon pages are reused without a refcount test and made writable by mprotect. */
  anonExclusive: boolean;
  /** CONFIG_MM_ID owner slots for large folios (6.15+): the COW reuse rule of PTE-mapped THP subpages. */
  mmId: boolean;
  /** CONFIG_PT_RECLAIM: MADV_DONTNEED of a whole 2 MiB frees its PTE table. */
  ptReclaim: boolean;
  /** MADV_COLLAPSE exists (6.1+). */
  madvCollapse: boolean;
  /** A THP that became fully unmapped is queued for deferred split too (freed right after; 4.5). */
  queueFullyUnmapped: boolean;
  /**
   * do_wp_page reuses a small anonymous page when its refcount is 1
   * (wp_can_reuse_anon_folio, 5.9+), not when its mapcount is 1
   * (reuse_swap_page, 4.5).
   */
  cowReuseRefcount: boolean;
  /**
   * 6.12+: splitting an anonymous THP maps its all-zero subpages to the shared
   * zero page instead of keeping them (remap_page with RMP_USE_SHARED_ZEROPAGE).
   */
  splitRemapsZeroPages: boolean;
  /**
   * mprotect of a never-faulted private VMA to read-only or none drops
   * VM_ACCOUNT (and making it writable sets it again); since VMA merging
   * compares flags, this decides which pieces merge back.
   */
  unaccountUnfaulted: boolean;
  /** Default mapcount scheme of this kernel (doublemap: Linux 4.5; large: 6.11+ with per-page mapcounts). */
  scheme: SchemeName;
  /**
   * do_anonymous_page, read fault: map the shared zero page (true), or
   * allocate a zeroed page as for a write (a host quirk: some builds never
   * map the zero page on a read fault).
   */
  readFaultZeroPage: boolean;
  /**
   * do_huge_pmd_anonymous_page, read fault with use_zero_page=1: map the
   * huge zero page (true), or allocate a THP as for a write (a host quirk).
   */
  readFaultHugeZeroPage: boolean;
  /**
   * alloc_anon_folio of this build with its `anon_beside_full` knob at 1 (a
   * build-specific file the scenario language does not set; `thpemu probe`
   * reads it): an mTHP of order n is allocated only when an aligned
   * neighbouring range of the same size (below or above, in the same VMA and
   * the same PTE table) has every PTE populated; else the next lower order.
   */
  mthpBesideFull: boolean;
  /**
   * 6.12+ underused-THP shrinker: a newly faulted or collapsed THP is queued
   * for deferred split (deferred_split_folio(folio, false)) while
   * shrink_underused is 1, and deferred_split_scan splits a fully mapped
   * one when thp_underused() finds more than max_ptes_none zero-filled
   * subpages.
   */
  thpShrinkUnderused: boolean;
  /** The THP knobs this kernel has (`sysfs` of any other is an error). */
  knobs: readonly KnobName[];
  /** The knobs' values before the first `sysfs` line. */
  initialKnobs: ThpKnobs;
}

/** What a host kernel build may do differently from its profile, found by live experiments (`thpemu probe`). */
export type HostQuirks = Pick<Profile, "readFaultZeroPage" | "readFaultHugeZeroPage" | "splitRemapsZeroPages" | "mthpBesideFull">;
export const QUIRK_NAMES: (keyof HostQuirks)[] = ["readFaultZeroPage", "readFaultHugeZeroPage", "splitRemapsZeroPages", "mthpBesideFull"];

export const PROFILES: Record<KernelName, Profile> = {
  "linux-6.18": {
    name: "linux-6.18",
    cowSplitsPmd: true,
    anonExclusive: true,
    mmId: true,
    ptReclaim: true,
    madvCollapse: true,
    queueFullyUnmapped: false,
    cowReuseRefcount: true,
    splitRemapsZeroPages: true,
    unaccountUnfaulted: true,
    scheme: "large",
    readFaultZeroPage: true,
    readFaultHugeZeroPage: true,
    mthpBesideFull: false,
    thpShrinkUnderused: true,
    knobs: KNOB_NAMES,
    initialKnobs: REFERENCE_KNOBS,
  },
  "linux-4.5": {
    name: "linux-4.5",
    cowSplitsPmd: false,
    anonExclusive: false,
    mmId: false,
    ptReclaim: false,
    madvCollapse: false,
    queueFullyUnmapped: true,
    cowReuseRefcount: false,
    splitRemapsZeroPages: false,
    unaccountUnfaulted: false,
    scheme: "doublemap",
    readFaultZeroPage: true,
    readFaultHugeZeroPage: true,
    mthpBesideFull: false,
    thpShrinkUnderused: false,
    // 4.5 had /sys/kernel/mm/transparent_hugepage/{enabled,use_zero_page} only
    knobs: ["enabled", "use_zero_page"],
    initialKnobs: { ...REFERENCE_KNOBS, shrink_underused: 0 },
  },
};

/** The core's mechanisms for a profile and scheme: the one place a profile becomes CONFIG_* bits. */
export function coreConfig(profile: Profile, scheme: SchemeName): CoreConfig {
  return {
    mmId: profile.mmId,
    anonExclusive: profile.anonExclusive,
    deferredSplitUnmapped: profile.queueFullyUnmapped,
    cowReuseRefcount: profile.cowReuseRefcount,
    scheme,
  };
}
