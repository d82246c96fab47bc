#!/usr/bin/env python3
# Runs the kernel's own /proc tools, unmodified, at one dump of a scenario,
# for test/procfs-tools.test.ts:
#
#   run-tools.py kernel OUT     the kernel runner's THPEMU_AT_DUMP hook: the
#                               scenario's real processes are alive; the
#                               index (names -> PIDs, regions) is in
#                               $THPEMU_INDEX, the dump number in $THPEMU_DUMP
#   run-tools.py emulator OUT N inside `unshare -m` with an emulator export
#                               (thpemu run --proc) bind-mounted over /proc:
#                               the index is /proc/index.json
#
# $TOOLS is the directory of page-types and thpmaps (scripts/proc-tools.sh),
# $CONT an optional thpmaps --cont size (e.g. 64K). Writes OUT/N/:
#   pagetypes.txt     page-types -r -L -M -p PID -a START,END per region
#   thpmaps.txt       thpmaps --pid PID --inc-smaps per process (all VMAs:
#                     the test keeps the scenario's)
#   thpmaps-cont.txt  the same with --cont $CONT (when $CONT is set)
#   smem.txt          smem -c 'pid user command maps swap uss pss rss vss'
#   index.json
# On the kernel side smem reads a copy of the real processes' files
# (smem -S): each smaps filtered to the VMAs inside the scenario's regions,
# cmdline = the scenario's process name, plus the real /proc/meminfo.
import json, os, shutil, subprocess, sys

side, out = sys.argv[1], sys.argv[2]
tools = os.environ["TOOLS"]
cont = os.environ.get("CONT", "")
if side == "kernel":
    index = json.loads(os.environ["THPEMU_INDEX"])
    dump = os.environ["THPEMU_DUMP"]
else:
    dump = sys.argv[3]
    with open("/proc/index.json") as f:
        index = json.load(f)
d = os.path.join(out, dump)
# a runner retried after interference runs the dumps again: nothing of the earlier attempt may stay
shutil.rmtree(d, ignore_errors=True)
os.makedirs(d)
with open(os.path.join(d, "index.json"), "w") as f:
    json.dump(index, f)

def run(args):
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.stderr.write(f"{' '.join(args)}: exit {r.returncode}: {r.stderr}\n")
        sys.exit(1)
    return r.stdout

procs = sorted(index["pids"].items())
regions = sorted(index["regions"], key=lambda r: (r["proc"], r["region"]))
with open(os.path.join(d, "pagetypes.txt"), "w") as f:
    for r in regions:
        pid = index["pids"][r["proc"]]
        f.write(f"## {r['proc']} {r['region']}\n")
        f.write(run([os.path.join(tools, "page-types"), "-r", "-L", "-M", "-p", str(pid),
                     "-a", f"{r['start'] // 4096},{r['end'] // 4096}"]))
for name, extra in [("thpmaps.txt", []), ("thpmaps-cont.txt", ["--cont", cont] if cont else None)]:
    if extra is None:
        continue
    with open(os.path.join(d, name), "w") as f:
        for proc, pid in procs:
            f.write(f"## {proc}\n")
            f.write(run([os.path.join(tools, "thpmaps"), "--pid", str(pid), "--inc-smaps", *extra]))

smem = ["smem", "-c", "pid user command maps swap uss pss rss vss"]
if side == "kernel":
    src = os.path.join(d, "smemsrc")
    os.makedirs(os.path.join(src, "proc"), exist_ok=True)
    with open("/proc/meminfo") as f, open(os.path.join(src, "proc", "meminfo"), "w") as g:
        g.write(f.read())
    for proc, pid in procs:
        p = os.path.join(src, "proc", str(pid))
        os.makedirs(p, exist_ok=True)
        mine = [(r["start"], r["end"]) for r in index["regions"] if r["proc"] == proc]
        keep, lines = False, []
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                first = line.split()[0]
                if "-" in first and ":" not in first:
                    s, e = (int(x, 16) for x in first.split("-"))
                    keep = any(a <= s and e <= b for a, b in mine)
                if keep:
                    lines.append(line)
        with open(os.path.join(p, "smaps"), "w") as g:
            g.writelines(lines)
        with open(os.path.join(p, "cmdline"), "w") as g:
            g.write(proc + "\0")
        with open(f"/proc/{pid}/stat") as f, open(os.path.join(p, "stat"), "w") as g:
            g.write(f.read())
    smem += ["-S", src]
with open(os.path.join(d, "smem.txt"), "w") as f:
    f.write(run(smem))
