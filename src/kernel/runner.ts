// The kernel runner: runs a normalized scenario on the host Linux kernel
// (native/kernel-runner.c, compiled on first use) and returns the JSONL the
// real kernel gives. The C program takes a machine-wide flock on
// /tmp/thpemu-kernel.lock for the whole run, so runs from several processes
// (vitest workers) never overlap: `shrink` and `sysfs` are machine-wide.
// Any host THP settings are fine: a scenario sets the knobs it depends on
// with `sysfs KNOB VALUE`; the runner restores every knob it changed when
// the run ends (also on errors and SIGINT/SIGTERM/SIGHUP/SIGQUIT), and after
// a SIGKILL the next run restores them from the journal
// /tmp/thpemu-kernel.knobs.
//
// Exit status of the binary: 0 ok (JSONL on stdout), 2 scenario error,
// 3 runner failure, 4 host cannot serve, 5 unsupported here (e.g. a knob
// this host cannot set), 6 split failed, 7 interference (khugepaged, THP
// allocation failure): run again.

import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";

export type KernelRunResult =
  | { status: "ok"; jsonl: string }
  | { status: "unsupported"; reason: string }
  | { status: "error"; reason: string; code: number };

const SOURCE_NAME = path.join("native", "kernel-runner.c");
const THP = "/sys/kernel/mm/transparent_hugepage";

/** native/kernel-runner.c, found upwards from this module (src/ or dist/ layouts). */
function findSource(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = path.join(dir, SOURCE_NAME);
    if (fs.existsSync(candidate)) return candidate;
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`kernel runner source ${SOURCE_NAME} not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}

/** The first of cc, gcc, clang on PATH, or null. */
export function findCompiler(): string | null {
  const dirs = (process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin").split(path.delimiter).filter((d) => d !== "");
  for (const name of ["cc", "gcc", "clang"]) {
    for (const dir of dirs) {
      const file = path.join(dir, name);
      try {
        fs.accessSync(file, fs.constants.X_OK);
        if (fs.statSync(file).isFile()) return file;
      } catch {
        // not here
      }
    }
  }
  return null;
}

export function cacheDir(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  return xdg && path.isAbsolute(xdg) ? path.join(xdg, "thpemu") : path.join(os.homedir(), ".cache", "thpemu");
}

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], input?: string, env?: NodeJS.ProcessEnv): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ["pipe", "pipe", "pipe"], env: env ?? process.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.stdin.on("error", () => {
      // the program exited before reading everything: its status tells why
    });
    child.on("error", reject);
    child.on("close", (code, signal) =>
      resolve({
        code,
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(err).toString("utf8"),
      }),
    );
    child.stdin.end(input ?? "");
  });
}

let building: Promise<string> | null = null;

/**
 * Compile native/kernel-runner.c (once per source version, cached in
 * $XDG_CACHE_HOME/thpemu or ~/.cache/thpemu) and return the binary's path.
 */
export function ensureKernelRunner(): Promise<string> {
  if (!building) {
    building = build().catch((e: unknown) => {
      building = null;
      throw e;
    });
  }
  return building;
}

async function build(): Promise<string> {
  const source = findSource();
  const text = fs.readFileSync(source);
  const hash = createHash("sha256").update(text).digest("hex").slice(0, 16);
  const dir = cacheDir();
  const bin = path.join(dir, `kernel-runner-${hash}`);
  try {
    fs.accessSync(bin, fs.constants.X_OK);
    return bin;
  } catch {
    // not built yet
  }
  const cc = findCompiler();
  if (!cc) throw new Error("no C compiler found (cc, gcc, clang): install gcc to use the kernel runner");
  fs.mkdirSync(dir, { recursive: true });
  // build beside the target and rename: concurrent builders never see half a binary
  const tmp = `${bin}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  try {
    const r = await run(cc, ["-O2", "-std=gnu11", "-o", tmp, source]);
    if (r.code !== 0) {
      throw new Error(`compiling ${source} with ${cc} failed (exit ${r.code ?? r.signal}):\n${r.stderr.trim()}`);
    }
    fs.chmodSync(tmp, 0o755);
    fs.renameSync(tmp, bin);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
  return bin;
}

/**
 * Can this host run scenarios on its kernel? Linux, root, /proc/kpagecount
 * and /proc/kpageflags readable, THP support. The THP settings do not
 * matter: scenarios set the knobs they depend on. (The binary checks the
 * same, and the 4 KiB page size, and exits 4.)
 */
export function hostCanServe(): { ok: boolean; reason?: string } {
  if (process.platform !== "linux") return { ok: false, reason: `not Linux (${process.platform})` };
  const why: string[] = [];
  if (typeof process.getuid === "function" && process.getuid() !== 0) {
    why.push("not running as root (PFNs in pagemap and /proc/kpage* need root)");
  }
  for (const f of ["/proc/kpagecount", "/proc/kpageflags"]) {
    try {
      fs.accessSync(f, fs.constants.R_OK);
      fs.closeSync(fs.openSync(f, "r"));
    } catch (e) {
      why.push(`${f} is not readable (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
  }
  if (!fs.existsSync(`${THP}/enabled`)) why.push(`no THP support (no ${THP}/enabled)`);
  return why.length ? { ok: false, reason: why.join("; ") } : { ok: true };
}

/**
 * Run a normalized scenario (parse.ts normalizeOp, one operation per line)
 * on the host kernel. Interference (exit 7) is retried up to `retries`
 * times (default 3). `smaps`: region records also carry the smaps fields
 * (the runner reads THPEMU_RUNNER_SMAPS=1).
 */
export async function runOnKernel(
  normalizedScenario: string,
  opts: {
    retries?: number;
    smaps?: boolean;
    /**
     * Extra environment for the runner, e.g. THPEMU_AT_DUMP=CMD: a command
     * run at each dump while the real processes are alive, with
     * THPEMU_DUMP=N and THPEMU_INDEX={"pids":{NAME:PID},"regions":[…]}
     * (native/kernel-runner.c at_dump_hook; test/procfs-tools.test.ts).
     */
    env?: Record<string, string>;
  } = {},
): Promise<KernelRunResult> {
  const bin = await ensureKernelRunner();
  const retries = Math.max(0, opts.retries ?? 3);
  const input = normalizedScenario.endsWith("\n") ? normalizedScenario : normalizedScenario + "\n";
  let last: Outcome | null = null;
  for (let attempt = 0; attempt <= retries; attempt++) {
    const r = await run(bin, [], input, opts.smaps || opts.env
      ? { ...process.env, ...(opts.smaps ? { THPEMU_RUNNER_SMAPS: "1" } : {}), ...opts.env }
      : undefined);
    last = r;
    if (r.code === 0) return { status: "ok", jsonl: r.stdout };
    if (r.code === 5) return { status: "unsupported", reason: r.stderr.trim() || "cannot be checked on this kernel" };
    if (r.code !== 7) break;
  }
  const r = last!;
  const code = r.code ?? (r.signal ? 128 + (os.constants.signals[r.signal] ?? 0) : -1);
  let reason = r.stderr.trim() || `kernel runner exited with ${r.code ?? r.signal}`;
  if (r.code === 7) reason = `${reason} (still after ${retries + 1} attempts)`;
  return { status: "error", reason, code };
}
