// What `--kernel` names: a kernel profile, or `host` (linux-6.18 with this
// host's knobs and quirks, measured by `thpemu probe`). The probe
// (src/kernel/probe.ts) is loaded only when `host` is asked for.
import { KERNELS, type KernelName } from "../profiles.js";
import type { MachineOptions } from "../machine.js";
import type { KernelTarget } from "../kernel/probe.js";
import type { CliIO } from "./io.js";

/** A kernel profile, or `host`: linux-6.18 with this host's knobs and quirks (`thpemu probe`). */
export type KernelChoice = KernelName | "host";
export const KERNEL_CHOICES: KernelChoice[] = [...KERNELS, "host"];

/** The one text of a probe that failed. */
export function cannotProbe(io: CliIO, reason: string): void {
  io.stderr.write(`thpemu: cannot probe this host: ${reason}\n`);
}

/** resolveTarget, or null once the reason is on stderr. */
export async function target(kernel: KernelChoice, io: CliIO): Promise<KernelTarget | null> {
  const { resolveTarget, HostError } = await import("../kernel/probe.js");
  try {
    return await resolveTarget(kernel);
  } catch (e) {
    if (!(e instanceof HostError)) throw e;
    cannotProbe(io, e.message);
    return null;
  }
}

/**
 * The machine options of `--kernel`: a profile as it is, or `host` (the
 * probe's knobs and quirks on linux-6.18); null once the reason the host
 * cannot be probed is on stderr.
 */
export async function machineOptions(kernel: KernelChoice, io: CliIO): Promise<MachineOptions | null> {
  if (kernel !== "host") return { kernel };
  const t = await target("host", io);
  return t ? t.machine : null;
}
