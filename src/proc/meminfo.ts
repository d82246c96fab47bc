// fs/proc/meminfo.c (meminfo_proc_show), the lines the emulator can fill:
// smem reads /proc/meminfo for MemTotal and SwapTotal (its percentages), so
// the tree has one. Each line is show_val_kb's: the name padded to 16
// columns, the value to 8, " kB".
import type { Kernel } from "../mm/types.js";
import { PAGE_SIZE } from "../pgtable/x86_64.js";
import type { KpageFiles } from "./page.js";
import { KPF, PFN_OFFSET } from "./page.js";

const line = (name: string, kb: number) => `${(name + ":").padEnd(16)}${String(kb).padStart(8)} kB\n`;

/** /proc/meminfo from the frame counts (kpageflags/kpagecount of the same moment). */
export function meminfoText(k: Kernel, kp: KpageFiles): string {
  const kb = PAGE_SIZE / 1024;
  let anon = 0, tables = 0;
  for (let pfn = PFN_OFFSET; pfn < PFN_OFFSET + k.core.frames; pfn++) {
    const lo = kp.flags[2 * pfn];
    if ((lo >>> KPF.ANON) & 1 && kp.count[2 * pfn] > 0) anon++; // NR_ANON_MAPPED: anonymous pages mapped somewhere
    if ((lo >>> KPF.PGTABLE) & 1) tables++; // NR_PAGETABLE
  }
  const free = k.core.nrFreePages(); // NR_FREE_PAGES
  return line("MemTotal", k.core.frames * kb) + line("MemFree", free * kb) + line("MemAvailable", free * kb) +
    line("Buffers", 0) + line("Cached", 0) + line("SwapCached", 0) +
    line("SwapTotal", 0) + line("SwapFree", 0) + line("AnonPages", anon * kb) + line("Mapped", 0) +
    line("Shmem", 0) + line("PageTables", tables * kb);
}
