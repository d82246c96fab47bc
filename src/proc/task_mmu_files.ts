// fs/proc/task_mmu.c, the show functions: /proc/PID/maps (show_map_vma),
// /proc/PID/smaps (show_smap), /proc/PID/smaps_rollup (show_smaps_rollup)
// as text, and /proc/PID/pagemap (pagemap_read) as 64-bit entries. The
// numbers of smaps come from mm/task_mmu.ts (smapsVma: struct
// mem_size_stats); this file only prints them the way the kernel does.
import type { Kernel, Process, Vma } from "../mm/types.js";
import { VM_READ, VM_WRITE, VM_ACCOUNT, VM_HUGEPAGE, VM_NOHUGEPAGE } from "../mm/types.js";
import { smaps, emptyMemSizeStats, kB, pssKB, vmaPerms, type MemSizeStats, type SmapsFields } from "../mm/task_mmu.js";
import { walkPageRange } from "../pgtable/pagewalk.js";
import { PAGE_SIZE, PMD_SIZE } from "../pgtable/x86_64.js";
import { PFN_OFFSET } from "./page.js";

/** A file of the tree: `size` bytes, zero outside the extents (a sparse file). */
export interface ProcFile {
  size: number;
  extents: { offset: number; bytes: Uint8Array }[];
}

/** A text file (one extent). */
export function textFile(s: string): ProcFile {
  const bytes = new TextEncoder().encode(s);
  return { size: bytes.length, extents: bytes.length ? [{ offset: 0, bytes }] : [] };
}

const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");

/**
 * show_vma_header_prefix + show_map_vma for an anonymous VMA: no file, so
 * offset, device and inode are 0 and nothing follows the inode's space.
 * With a name, the line is padded to 72 columns first (seq_pad).
 */
export function mapsLine(start: number, end: number, perms: string, name?: string): string {
  const head = `${hex(start, 8)}-${hex(end, 8)} ${perms} 00000000 00:00 0 `;
  return name === undefined ? `${head}\n` : `${head.padEnd(72)} ${name}\n`;
}

/** /proc/PID/maps. */
export function mapsText(p: Process): string {
  return p.mm.vmas.map((v) => mapsLine(v.start, v.end, vmaPerms(v))).join("");
}

/** SEQ_PUT_DEC in show_smap/__show_smap: the name padded to 16 columns, the value to 8, in kB. */
const kbLine = (name: string, kb: number) => `${(name + ":").padEnd(16)}${String(kb).padStart(8)} kB\n`;

/**
 * show_smap_vma_flags: the mnemonics of the flags an anonymous private VMA
 * can have here, in bit order (VM_MAYREAD/MAYWRITE/MAYEXEC are always set
 * by mmap; VM_SOFTDIRTY is absent: CONFIG_MEM_SOFT_DIRTY is off on the
 * reference kernel).
 */
export function vmFlags(vma: Vma): string {
  const f: string[] = [];
  if (vma.flags & VM_READ) f.push("rd");
  if (vma.flags & VM_WRITE) f.push("wr");
  f.push("mr", "mw", "me");
  if (vma.flags & VM_ACCOUNT) f.push("ac");
  if (vma.flags & VM_HUGEPAGE) f.push("hg");
  if (vma.flags & VM_NOHUGEPAGE) f.push("nh");
  return `VmFlags: ${f.map((x) => x + " ").join("")}\n`;
}

/** __show_smap: the lines from Rss to Locked (the rollup adds Pss_Anon/File/Shmem). */
function showSmapBody(mss: MemSizeStats, rollup: boolean): string {
  let s = kbLine("Rss", kB(mss.resident)) + kbLine("Pss", pssKB(mss.pss)) + kbLine("Pss_Dirty", pssKB(mss.pss_dirty));
  if (rollup) s += kbLine("Pss_Anon", pssKB(mss.pss_anon)) + kbLine("Pss_File", pssKB(mss.pss_file)) + kbLine("Pss_Shmem", pssKB(mss.pss_shmem));
  return s +
    kbLine("Shared_Clean", kB(mss.shared_clean)) + kbLine("Shared_Dirty", kB(mss.shared_dirty)) +
    kbLine("Private_Clean", kB(mss.private_clean)) + kbLine("Private_Dirty", kB(mss.private_dirty)) +
    kbLine("Referenced", kB(mss.referenced)) + kbLine("Anonymous", kB(mss.anonymous)) +
    kbLine("KSM", kB(mss.ksm)) + kbLine("LazyFree", kB(mss.lazyfree)) +
    kbLine("AnonHugePages", kB(mss.anonymous_thp)) + kbLine("ShmemPmdMapped", kB(mss.shmem_thp)) +
    kbLine("FilePmdMapped", kB(mss.file_thp)) + kbLine("Shared_Hugetlb", kB(mss.shared_hugetlb)) +
    kbLine("Private_Hugetlb", kB(mss.private_hugetlb)) + kbLine("Swap", kB(mss.swap)) +
    kbLine("SwapPss", pssKB(mss.swap_pss)) + kbLine("Locked", pssKB(mss.pss_locked));
}

/** One VMA's numbers, as mm/task_mmu.ts smaps() computes them. */
export interface VmaStats { vma: Vma; fields: SmapsFields; mss: MemSizeStats }

/** The smaps numbers of every VMA of a live process (mm/task_mmu.ts smapsVma), in address order. */
export function vmaStats(k: Kernel, p: Process): VmaStats[] {
  const per = smaps(k, p);
  return p.mm.vmas.map((vma, i) => ({ vma, fields: per[i].fields, mss: per[i].mss }));
}

/** /proc/PID/smaps: show_smap for every VMA. */
export function smapsText(stats: VmaStats[]): string {
  return stats.map(({ vma, fields, mss }) =>
    mapsLine(vma.start, vma.end, vmaPerms(vma)) +
    kbLine("Size", fields.Size) + kbLine("KernelPageSize", fields.KernelPageSize) + kbLine("MMUPageSize", fields.MMUPageSize) +
    showSmapBody(mss, false) +
    `THPeligible:    ${String(fields.THPeligible).padStart(8)}\n` +
    vmFlags(vma)).join("");
}

/** The mem_size_stats of all VMAs added up (show_smaps_rollup's smap_gather_stats loop). */
export function rollupStats(stats: VmaStats[]): MemSizeStats {
  const sum = emptyMemSizeStats();
  for (const { mss } of stats) for (const key of Object.keys(sum) as (keyof MemSizeStats)[]) sum[key] += mss[key];
  return sum;
}

/** /proc/PID/smaps_rollup: the first VMA's start to the last one's end (0-0 without VMAs), `[rollup]`. */
export function smapsRollupText(stats: VmaStats[]): string {
  const start = stats.length ? stats[0].vma.start : 0;
  const end = stats.length ? stats[stats.length - 1].vma.end : 0;
  return mapsLine(start, end, "---p", "[rollup]") + showSmapBody(rollupStats(stats), true);
}

// ---- pagemap ----------------------------------------------------------------------
/** pagemap entry bits (fs/proc/task_mmu.c PM_*), as bit numbers of the u64. */
export const PM = { PFRAME_BITS: 55, SOFT_DIRTY: 55, MMAP_EXCLUSIVE: 56, UFFD_WP: 57, FILE: 61, SWAP: 62, PRESENT: 63 } as const;
const HI_PRESENT = 2 ** (PM.PRESENT - 32), HI_EXCL = 2 ** (PM.MMAP_EXCLUSIVE - 32), HI_FILE = 2 ** (PM.FILE - 32);

/** The pagemap entry of emulated frame `frame` as two 32-bit words (the PFN fits the low word: at most 2^25 frames). */
export function pagemapEntry(frame: number, exclusive: boolean, file: boolean): [number, number] {
  return [(frame + PFN_OFFSET) >>> 0, (HI_PRESENT + (exclusive ? HI_EXCL : 0) + (file ? HI_FILE : 0)) >>> 0];
}

/**
 * /proc/PID/pagemap (pagemap_pmd_range / pte_to_pagemap_entry): one u64
 * per virtual page, up to the end of the last VMA; a present page has its
 * PFN, PM_PRESENT, and PM_MMAP_EXCLUSIVE when its precise mapcount
 * (page_mapcount, the value kpagecount shows) is 1 (for a huge PMD: the
 * head's, for all 512 entries); the huge zero page is
 * not anonymous (PM_FILE); the small zero page is a special PTE with no
 * struct page behind it for vm_normal_page (neither bit). Soft-dirty is
 * never set (CONFIG_MEM_SOFT_DIRTY is off on the reference kernel). Pages
 * with nothing mapped are holes of the sparse file.
 */
export function pagemapFile(k: Kernel, p: Process): ProcFile {
  const { core, pt } = k;
  const vmas = p.mm.vmas;
  const size = vmas.length ? (vmas[vmas.length - 1].end / PAGE_SIZE) * 8 : 0;
  const extents: ProcFile["extents"] = [];
  let runVpn = -1, run: number[] = [];
  const flush = () => {
    if (run.length) extents.push({ offset: runVpn * 8, bytes: new Uint8Array(new Uint32Array(run).buffer) });
    run = [];
    runVpn = -1;
  };
  const put = (vpn: number, e: [number, number]) => {
    if (runVpn < 0 || vpn !== runVpn + run.length / 2) { flush(); runVpn = vpn; }
    run.push(e[0], e[1]);
  };
  for (const vma of vmas) {
    walkPageRange(pt, p.mm, vma.start, vma.end, {
      pmdEntry(pmd, _blk, s, e) {
        const n = (e - s) / PAGE_SIZE;
        const i0 = (s % PMD_SIZE) / PAGE_SIZE;
        if (pt.pmdTransHuge(pmd)) {
          const head = pt.pfn(pmd);
          if (head === core.hugeZeroPfn) {
            for (let i = 0; i < n; i++) put(s / PAGE_SIZE + i, pagemapEntry(head + i0 + i, false, true));
            return true;
          }
          // 6.15+ pagemap_pmd_range asks __folio_page_mapped_exclusively(folio, page) with
          // page = pmd_page(pmd), the head, for every entry of the PMD (6.12 asked page + idx);
          // the 6.18 kernel shows exactly that: one answer for the whole PMD
          const exclusive = core.e.page_mapcount(head) === 1;
          for (let i = 0; i < n; i++) put(s / PAGE_SIZE + i, pagemapEntry(head + i0 + i, exclusive, false));
          return true;
        }
        const base = pt.pteTable(pmd);
        const present: number[] = [];
        for (let i = 0; i < n; i++) {
          const pte = pt.nth(base, i0 + i);
          if (!pt.ptePresent(pte)) continue;
          const pfn = pt.pfn(pte);
          core.scratchSet(present.length / 2, pfn);
          present.push(i, pfn);
        }
        core.e.page_mapcount_batch(present.length / 2);
        for (let j = 0; j < present.length; j += 2) {
          const i = present[j], pfn = present[j + 1];
          const zero = pfn === core.zeroPfn;
          put(s / PAGE_SIZE + i, pagemapEntry(pfn, !zero && core.scratchGetSigned(j / 2) === 1, false));
        }
        return true;
      },
    });
  }
  flush();
  return { size, extents };
}
