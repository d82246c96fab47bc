// fs/proc/array.c: /proc/PID/status (proc_pid_status: the name and ids,
// then task_mem's Vm*/Rss* lines) and /proc/PID/stat (do_task_stat), for an
// emulated process. What the emulator has no notion of (signals, times,
// credentials, threads) is printed as a single-threaded sleeping root task
// with zero counters.
import type { Process } from "../mm/types.js";
import { VM_WRITE } from "../mm/types.js";
import { PAGE_SIZE } from "../pgtable/x86_64.js";
import type { MemSizeStats } from "../mm/task_mmu.js";

/** TASK_COMM_LEN - 1: the kernel keeps 15 characters of a task's name. */
export const COMM_LEN = 15;

/** What status and stat need besides the process: its fake PIDs and its summed smaps numbers. */
export interface TaskIds { pid: number; ppid: number }

/** task_mem's numbers in kB, from the VMAs, the page-table count and the resident anonymous memory. */
export function taskMem(p: Process, rollup: MemSizeStats): Record<string, number> {
  const vm = p.mm.vmas.reduce((s, v) => s + (v.end - v.start), 0) / 1024;
  // is_data_mapping: private writable, not stack
  const data = p.mm.vmas.filter((v) => v.flags & VM_WRITE).reduce((s, v) => s + (v.end - v.start), 0) / 1024;
  const anon = Math.floor(rollup.anonymous / 1024); // MM_ANONPAGES: the anonymous pages mapped (not the zero pages)
  return {
    // the emulator keeps no high-water marks: VmPeak/VmHWM are the current values
    VmPeak: vm, VmSize: vm, VmLck: 0, VmPin: 0, VmHWM: anon, VmRSS: anon,
    RssAnon: anon, RssFile: 0, RssShmem: 0, VmData: data, VmStk: 0, VmExe: 0, VmLib: 0,
    // mm_pgtables_bytes: the PTE, PMD and PUD tables (deposited ones too), not the PGD
    VmPTE: Math.max(0, p.mm.nrTables - 1) * (PAGE_SIZE / 1024), VmSwap: 0,
  };
}

/** proc_pid_status: Name … PPid, then task_mem (`%8lu kB`, a tab after the colon). */
export function statusText(p: Process, ids: TaskIds, rollup: MemSizeStats): string {
  const head = [
    `Name:\t${p.name.slice(0, COMM_LEN)}`, "Umask:\t0022", "State:\tS (sleeping)",
    `Tgid:\t${ids.pid}`, "Ngid:\t0", `Pid:\t${ids.pid}`, `PPid:\t${ids.ppid}`, "TracerPid:\t0",
    "Uid:\t0\t0\t0\t0", "Gid:\t0\t0\t0\t0",
  ];
  const mem = Object.entries(taskMem(p, rollup)).map(([k, v]) => `${k}:\t${String(v).padStart(8)} kB`);
  return [...head, ...mem, "Threads:\t1", ""].join("\n");
}

/**
 * do_task_stat: the 52 fields; pid, comm, state, ppid, vsize (bytes), rss
 * (pages) and rsslim carry values, everything the emulator does not model
 * is 0 (pgrp and session are the pid itself).
 */
export function statText(p: Process, ids: TaskIds, rollup: MemSizeStats): string {
  const vsize = p.mm.vmas.reduce((s, v) => s + (v.end - v.start), 0);
  const rss = Math.floor(rollup.anonymous / PAGE_SIZE);
  const f: (string | number)[] = [ids.pid, `(${p.name.slice(0, COMM_LEN)})`, "S", ids.ppid, ids.pid, ids.pid, 0, -1, 4194560];
  f.push(0, 0, 0, 0); // minflt cminflt majflt cmajflt
  f.push(0, 0, 0, 0); // utime stime cutime cstime
  f.push(20, 0, 1, 0, 0); // priority nice num_threads itrealvalue starttime
  f.push(vsize, rss, "18446744073709551615");
  while (f.length < 52) f.push(0);
  f[37] = 17; // exit_signal SIGCHLD
  return f.join(" ") + "\n";
}
