// Kernel policy profiles: what differs between the kernels the emulator can
// be. One table each; the code asks the profile, never the kernel's name.

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
  /** 4.5 quirk: a THP that became fully unmapped is queued for deferred split (freed right after). */
  queueFullyUnmapped: boolean;
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
}

export const PROFILES: Record<KernelName, Profile> = {
  "linux-6.18": {
    name: "linux-6.18",
    cowSplitsPmd: true,
    anonExclusive: true,
    mmId: true,
    ptReclaim: true,
    madvCollapse: true,
    queueFullyUnmapped: false,
    splitRemapsZeroPages: true,
    unaccountUnfaulted: true,
    scheme: "large",
  },
  "linux-4.5": {
    name: "linux-4.5",
    cowSplitsPmd: false,
    anonExclusive: false,
    mmId: false,
    ptReclaim: false,
    madvCollapse: false,
    queueFullyUnmapped: true,
    splitRemapsZeroPages: false,
    unaccountUnfaulted: false,
    scheme: "doublemap",
  },
};
