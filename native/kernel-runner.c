/*
 * kernel-runner: run a normalized thpemu scenario on the host Linux kernel
 * and print the observations (JSONL, docs: scenario-format.md) that the real
 * kernel gives through /proc/PID/pagemap, /proc/kpagecount, /proc/kpageflags
 * and /proc/PID/smaps.
 *
 *   kernel-runner < normalized.scn > observations.jsonl
 *
 * stdin: one operation per line, tokens separated by spaces, numbers in
 * bytes (the TypeScript side normalizes and validates the scenario first;
 * comments, blank lines, hex and K/M/G suffixes are accepted anyway). Lines
 * are numbered from 1 in this input. `inspect P R OFF` (emulator struct page
 * fields) is checked for a valid process/region/offset and otherwise skipped:
 * it prints nothing here. `sysfs KNOB VALUE` sets a THP knob (below) and
 * prints nothing either.
 * stdout: the JSONL, printed only when the whole run succeeded.
 * stderr: one message on failure.
 * Exit status: 0 ok; 2 scenario error (`line N: ...`, e.g. an access error
 * or an unknown sysfs knob); 3 the runner itself failed (I/O on /proc, an
 * actor died, a knob could not be restored, ...); 4 the host cannot serve
 * (not root, no /proc/kpagecount, no THP support); 5 unsupported here (split
 * of a THP shared by several processes, a sysfs knob this host cannot set);
 * 6 a split failed; 7 interference (khugepaged, THP allocation failure,
 * memory pressure): run again.
 *
 * Design: the controller (this process) forks one actor per scenario
 * process; `fork P Q` makes actor P call fork(), so Q is a real child of P.
 * Each actor executes commands received over its own SOCK_SEQPACKET socket
 * and answers. When the controller dies for any reason, every socket reaches
 * EOF and every actor exits (direct children also have PR_SET_PDEATHSIG);
 * the controller is a child subreaper, so orphaned actors are reparented to
 * it and reaped. Runs are serialized machine-wide with flock on
 * /tmp/thpemu-kernel.lock (a shrink and the sysfs knobs are machine-wide).
 * Interference is detected through /proc/vmstat and
 * khugepaged/pages_collapsed (with `sysfs enabled always` khugepaged may
 * collapse our ranges: that is interference, run again).
 *
 * sysfs knobs: any host THP settings are fine; a scenario changes the ones
 * it depends on with `sysfs KNOB VALUE` (KNOB relative to
 * /sys/kernel/mm/transparent_hugepage: enabled, hugepages-NkB/enabled for
 * N = 16 ... 2048, use_zero_page, shrink_underused, khugepaged/max_ptes_none).
 * The first time a knob is changed its original value is kept in a static
 * buffer and, before the write, in the journal /tmp/thpemu-kernel.knobs
 * (one `KNOB ORIGINAL_VALUE` line per changed knob, written to a temporary
 * file, fsynced and renamed, under the flock). Writing an `enabled` knob
 * makes the kernel recompute vm.min_free_kbytes (start_stop_khugepaged), so
 * its value is journaled too, as `/proc/sys/vm/min_free_kbytes N`, and put
 * back only if it still differs once the THP knobs are restored. A first
 * `# boot_id ID` line marks the boot the journal belongs to: after a reboot
 * the knobs are reset anyway and the journal is just deleted. Every changed
 * knob is restored when the run ends, on success, on every error path and
 * in the SIGINT/SIGTERM/SIGHUP/SIGQUIT handler (open/write/close only), while
 * the flock is still held; then the journal is deleted. After a SIGKILL the
 * journal remains, and the next run restores what it lists right after
 * taking the flock. Nothing else is ever written, apart from
 * /proc/sys/vm/drop_caches for `shrink`. A knob this host cannot set (no
 * such file, write refused) makes the scenario unsupported here (exit 5).
 *
 * Build: gcc -O2 -Wall -Wextra -std=gnu11 -o kernel-runner native/kernel-runner.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef MADV_COLD
#define MADV_COLD 20
#endif
#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif
#ifndef PR_SET_CHILD_SUBREAPER
#define PR_SET_CHILD_SUBREAPER 36
#endif

#define EX_OK 0
#define EX_SCENARIO 2
#define EX_INTERNAL 3
#define EX_HOST 4
#define EX_UNSUPPORTED 5
#define EX_SPLIT 6
#define EX_INTERFERENCE 7

#define PAGE_SZ 4096ULL
#define PMD_SZ (2ULL << 20)
#define KPF_HEAD (1ULL << 15)
#define KPF_TAIL (1ULL << 16)
#define KPF_ZERO (1ULL << 24)
#define PM_PRESENT (1ULL << 63)
#define PM_SWAP (1ULL << 62)
#define PM_PFN_MASK ((1ULL << 55) - 1)
#define MAX_SCAN (1ULL << 18) /* PFNs scanned to find a compound head/extent */

#define LOCK_PATH "/tmp/thpemu-kernel.lock"
#define ACTOR_LOCK_FD 100
#define ACTOR_CHAN_FD 101
/* Regions are placed top-down from here, 2 MiB aligned, with a 2 MiB gap
 * between regions and never at an address used before (as the emulator
 * does): two regions never merge into one VMA and a dump of a region never
 * sees a later mapping. Far from the stack, libraries and heap. */
#define REGION_TOP 0x400000000000ULL
#define REPLY_TIMEOUT_MS 120000
#define EXIT_TIMEOUT_MS 30000
#define SPLIT_TRIES 10

/* ------------------------------------------------------------------ */
/* protocol controller <-> actor                                        */

enum { OP_MMAP = 1, OP_TOUCH, OP_MUNMAP, OP_MPROTECT, OP_MADVISE, OP_FORK, OP_EXIT };

struct cmd {
  int32_t op;
  int32_t arg;
  uint64_t a;
  uint64_t b;
};

struct rep {
  int32_t err;
  int32_t pid;
  uint64_t val;
};

/* ------------------------------------------------------------------ */
/* controller state                                                     */

typedef struct {
  char name[40];
  uint64_t start, size;
} Region;

typedef struct {
  char name[40];
  pid_t pid;
  int pidfd;
  int chan;
  int alive;
  Region *regs;
  int nregs, capregs;
} Proc;

static Proc *procs;
static int nprocs, capprocs;
static pid_t ctrl_pid;
static int lock_fd = -1;
static int kpf_fd = -1, kpc_fd = -1;
static int cur_line;
static uint64_t next_top = REGION_TOP - PMD_SZ;
static int nforks; /* fork operations run so far */

#define SIG_PIDS 4096
static pid_t sig_pids[SIG_PIDS];
static volatile sig_atomic_t sig_npids;

static void cleanup_actors(void);
static int end_run(void);

static void vmsg(const char *fmt, va_list ap) {
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  fflush(stderr);
}

static _Noreturn void die(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vmsg(fmt, ap);
  va_end(ap);
  if (getpid() != ctrl_pid) _exit(code); /* never from an actor, but be safe */
  end_run();
  exit(code);
}

/* `line N: ...` */
static _Noreturn void die_line(int code, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  die(code, "line %d: %s", cur_line, buf);
}

static void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) die(EX_INTERNAL, "out of memory");
  return q;
}

static long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void sleep_ms(long ms) {
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
  }
}

/* Whole file into a NUL-terminated buffer; NULL (errno set) on failure. */
static char *slurp(const char *path, size_t *lenp) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  size_t cap = 65536, len = 0;
  char *buf = xrealloc(NULL, cap);
  for (;;) {
    if (cap - len < 4096) {
      cap *= 2;
      buf = xrealloc(buf, cap);
    }
    ssize_t n = read(fd, buf + len, cap - len - 1);
    if (n < 0) {
      if (errno == EINTR) continue;
      int e = errno;
      close(fd);
      free(buf);
      errno = e;
      return NULL;
    }
    if (n == 0) break;
    len += (size_t)n;
  }
  close(fd);
  buf[len] = 0;
  if (lenp) *lenp = len;
  return buf;
}

/* ------------------------------------------------------------------ */
/* sysfs knobs (`sysfs KNOB VALUE`), their restore and the journal      */

#define THP_DIR "/sys/kernel/mm/transparent_hugepage/"
#define MIN_FREE_PATH "/proc/sys/vm/min_free_kbytes"
#define JOURNAL_PATH "/tmp/thpemu-kernel.knobs"
#define JOURNAL_TMP "/tmp/thpemu-kernel.knobs.tmp"
#define BOOT_ID_PATH "/proc/sys/kernel/random/boot_id"

/* value kinds: enabled; hugepages-NkB/enabled; 0|1; max_ptes_none; and the
 * side effect vm.min_free_kbytes (journaled and restored, never set by a
 * scenario) */
enum { KV_MODE, KV_SIZE, KV_BOOL, KV_PTES, KV_MINFREE };

typedef struct {
  const char *name; /* as in the scenario and the journal */
  const char *path;
  int kind;
  char orig[24];                 /* the value before this run changed it */
  volatile sig_atomic_t changed; /* orig valid and journaled: restore at the end */
} Knob;

#define KNOB(n, k) { n, THP_DIR n, k, "", 0 }
static Knob knobs[] = {
  KNOB("enabled", KV_MODE),
  KNOB("hugepages-16kB/enabled", KV_SIZE),
  KNOB("hugepages-32kB/enabled", KV_SIZE),
  KNOB("hugepages-64kB/enabled", KV_SIZE),
  KNOB("hugepages-128kB/enabled", KV_SIZE),
  KNOB("hugepages-256kB/enabled", KV_SIZE),
  KNOB("hugepages-512kB/enabled", KV_SIZE),
  KNOB("hugepages-1024kB/enabled", KV_SIZE),
  KNOB("hugepages-2048kB/enabled", KV_SIZE),
  KNOB("use_zero_page", KV_BOOL),
  KNOB("shrink_underused", KV_BOOL),
  KNOB("khugepaged/max_ptes_none", KV_PTES),
  /* last: restored after the THP knobs, whose writes move it */
  { MIN_FREE_PATH, MIN_FREE_PATH, KV_MINFREE, "", 0 },
};
#undef KNOB
#define NKNOBS ((int)(sizeof knobs / sizeof knobs[0]))
#define MINFREE (&knobs[NKNOBS - 1])

/* the journal was written by this run (or recovered): delete it once
 * everything is restored */
static volatile sig_atomic_t journal_live;

/* A scenario knob by name (the min_free_kbytes side effect only if `side`). */
static Knob *find_knob(const char *name, int side) {
  for (int i = 0; i < NKNOBS; i++)
    if (!strcmp(knobs[i].name, name) && (side || knobs[i].kind != KV_MINFREE)) return &knobs[i];
  return NULL;
}

static const char *knob_expected(int kind) {
  switch (kind) {
  /* as src/knobs.ts says it */
  case KV_MODE: return "always, madvise, never";
  case KV_SIZE: return "always, inherit, madvise, never";
  case KV_BOOL: return "0, 1";
  case KV_PTES: return "0 … 511";
  default: return "a decimal number";
  }
}

static int value_ok(int kind, const char *v) {
  switch (kind) {
  case KV_SIZE:
    if (!strcmp(v, "inherit")) return 1;
    /* fall through */
  case KV_MODE:
    return !strcmp(v, "always") || !strcmp(v, "madvise") || !strcmp(v, "never");
  case KV_BOOL:
    return !strcmp(v, "0") || !strcmp(v, "1");
  default: { /* decimal (leading zeros allowed, as by the kernel) */
    size_t n = strlen(v);
    if (n == 0 || n > 9) return 0;
    for (size_t i = 0; i < n; i++)
      if (v[i] < '0' || v[i] > '9') return 0;
    return kind != KV_PTES || atoi(v) <= 511;
  }
  }
}

static int str_eq(const char *a, const char *b) { /* async-signal-safe strcmp() == 0 */
  while (*a && *a == *b) a++, b++;
  return *a == *b;
}

/* The current value of a knob: the bracketed word of `always [madvise]
 * never`, or the number. 0 or an errno. Async-signal-safe. */
static int read_knob(const Knob *k, char *out, size_t cap) {
  char buf[256];
  int fd = open(k->path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  ssize_t n;
  do n = read(fd, buf, sizeof buf - 1);
  while (n < 0 && errno == EINTR);
  int e = errno;
  close(fd);
  if (n < 0) return e;
  buf[n] = 0;
  const char *p = buf;
  for (const char *q = buf; *q; q++)
    if (*q == '[') {
      p = q + 1;
      break;
    }
  while (*p == ' ' || *p == '\t' || *p == '\n') p++;
  size_t len = 0;
  while (p[len] && p[len] != ']' && p[len] != ' ' && p[len] != '\t' && p[len] != '\n') len++;
  if (len == 0 || len >= cap) return EINVAL;
  for (size_t i = 0; i < len; i++) out[i] = p[i];
  out[len] = 0;
  return 0;
}

/* 0 or an errno. Async-signal-safe. */
static int write_knob(const char *path, const char *val) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return errno;
  size_t len = 0;
  while (val[len]) len++;
  ssize_t n;
  do n = write(fd, val, len);
  while (n < 0 && errno == EINTR);
  int e = n < 0 ? errno : n != (ssize_t)len ? EIO : 0;
  if (close(fd) < 0 && !e && errno != EINTR) e = errno;
  return e;
}

/* Put every changed knob back to its original value (skipping those that
 * already have it; min_free_kbytes last, only if the knob writes left it
 * moved), then delete the journal. 0, or the errno of the first failure
 * (*bad = its index; the journal stays for the next run). Async-signal-safe. */
static int restore_knobs(int *bad) {
  int err = 0;
  for (int i = 0; i < NKNOBS; i++) {
    Knob *k = &knobs[i];
    if (!k->changed) continue;
    char cur[sizeof k->orig];
    int e = 0;
    if (read_knob(k, cur, sizeof cur) != 0 || !str_eq(cur, k->orig)) e = write_knob(k->path, k->orig);
    if (e) {
      if (!err) {
        err = e;
        *bad = i;
      }
      continue;
    }
    k->changed = 0;
  }
  if (!err && journal_live) {
    unlink(JOURNAL_PATH);
    journal_live = 0;
  }
  return err;
}

static void block_signals(sigset_t *old) {
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGINT);
  sigaddset(&s, SIGTERM);
  sigaddset(&s, SIGHUP);
  sigaddset(&s, SIGQUIT);
  sigprocmask(SIG_BLOCK, &s, old);
}

/* End of the run on every path of the controller: restore the knobs while
 * the flock is still ours, then kill the actors (which releases it). 0, or
 * the errno of a failed restore (reported on stderr). */
static int end_run(void) {
  sigset_t old;
  block_signals(&old);
  int bad = 0, e = restore_knobs(&bad);
  if (e)
    fprintf(stderr, "cannot restore sysfs knob %s to %s: %s (%s keeps it for the next run)\n", knobs[bad].name,
            knobs[bad].orig, strerror(e), JOURNAL_PATH);
  cleanup_actors();
  sigprocmask(SIG_SETMASK, &old, NULL);
  return e;
}

static int read_boot_id(char *out, size_t cap) {
  int fd = open(BOOT_ID_PATH, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, out, cap - 1);
  close(fd);
  if (n <= 0) return 0;
  out[n] = 0;
  out[strcspn(out, " \n")] = 0;
  return out[0] != 0;
}

/* Write the journal: the changed knobs plus k and side. 0 or an errno. */
static int write_journal(const Knob *k, const Knob *side) {
  char buf[2048], id[64];
  size_t n = 0;
  if (read_boot_id(id, sizeof id)) n += (size_t)snprintf(buf + n, sizeof buf - n, "# boot_id %s\n", id);
  for (int i = 0; i < NKNOBS; i++)
    if (knobs[i].changed || &knobs[i] == k || &knobs[i] == side)
      n += (size_t)snprintf(buf + n, sizeof buf - n, "%s %s\n", knobs[i].name, knobs[i].orig);
  if (n >= sizeof buf) return ENOSPC;
  unlink(JOURNAL_TMP);
  int fd = open(JOURNAL_TMP, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return errno;
  size_t done = 0;
  while (done < n) {
    ssize_t w = write(fd, buf + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      int e = w < 0 ? errno : EIO;
      close(fd);
      unlink(JOURNAL_TMP);
      return e;
    }
    done += (size_t)w;
  }
  if (fsync(fd) < 0 || close(fd) < 0 || rename(JOURNAL_TMP, JOURNAL_PATH) < 0) {
    int e = errno;
    unlink(JOURNAL_TMP);
    return e;
  }
  return 0;
}

static _Noreturn void knob_unsupported(const Knob *k, const char *val, const char *why) {
  fprintf(stderr, "unsupported: cannot set sysfs knob %s to %s on this host (line %d: %s)\n", k->name, val, cur_line, why);
  end_run();
  exit(EX_UNSUPPORTED);
}

/* `sysfs KNOB VALUE`: journal the original value(s), then write. */
static void op_sysfs(const char *name, const char *val) {
  Knob *k = find_knob(name, 0);
  if (!k) die_line(EX_SCENARIO, "unknown sysfs knob '%s'", name);
  sigset_t old;
  block_signals(&old); /* the handler sees the knobs and the journal consistent */
  int e;
  /* writing an enabled knob runs start_stop_khugepaged(), which recomputes
   * vm.min_free_kbytes */
  Knob *side = (k->kind == KV_MODE || k->kind == KV_SIZE) && !MINFREE->changed ? MINFREE : NULL;
  if (!k->changed || side) {
    if (!k->changed && (e = read_knob(k, k->orig, sizeof k->orig)) != 0) {
      sigprocmask(SIG_SETMASK, &old, NULL);
      knob_unsupported(k, val, e == EINVAL ? "cannot read its current value" : strerror(e));
    }
    if (!k->changed && !value_ok(k->kind, k->orig)) {
      char why[96];
      snprintf(why, sizeof why, "unexpected current value '%s'", k->orig);
      sigprocmask(SIG_SETMASK, &old, NULL);
      knob_unsupported(k, val, why);
    }
    if (side && ((e = read_knob(side, side->orig, sizeof side->orig)) != 0 || !value_ok(side->kind, side->orig))) {
      sigprocmask(SIG_SETMASK, &old, NULL);
      die_line(EX_INTERNAL, "cannot read %s: %s", side->path, e ? strerror(e) : "unexpected value");
    }
    if ((e = write_journal(k, side)) != 0) {
      sigprocmask(SIG_SETMASK, &old, NULL);
      die_line(EX_INTERNAL, "cannot write %s: %s", JOURNAL_PATH, strerror(e));
    }
    journal_live = 1;
    k->changed = 1;
    if (side) side->changed = 1;
  }
  char canon[16];
  if (k->kind == KV_PTES) { /* the kernel shows 12 for 012: compare with that */
    snprintf(canon, sizeof canon, "%d", atoi(val));
    val = canon;
  }
  e = write_knob(k->path, val);
  char now[sizeof k->orig] = "";
  if (!e && read_knob(k, now, sizeof now) == 0 && !str_eq(now, val)) {
    char why[96];
    snprintf(why, sizeof why, "it reads back as '%s'", now);
    sigprocmask(SIG_SETMASK, &old, NULL);
    knob_unsupported(k, val, why);
  }
  sigprocmask(SIG_SETMASK, &old, NULL);
  if (e) knob_unsupported(k, val, strerror(e));
}

/* Right after taking the flock: a journal means a runner died (SIGKILL)
 * with knobs changed. Restore what it lists, then delete it. */
static void recover_journal(void) {
  unlink(JOURNAL_TMP); /* a journal write that never got renamed */
  int fd = open(JOURNAL_PATH, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return;
    die(EX_HOST, "host cannot serve: open %s: %s", JOURNAL_PATH, strerror(errno));
  }
  struct stat st;
  if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
    die(EX_HOST, "host cannot serve: %s is not a regular file owned by root and writable only by it: "
        "check the THP sysfs knobs and remove it", JOURNAL_PATH);
  char buf[4096];
  ssize_t n;
  do n = read(fd, buf, sizeof buf - 1);
  while (n < 0 && errno == EINTR);
  close(fd);
  if (n < 0) die(EX_HOST, "host cannot serve: read %s: %s", JOURNAL_PATH, strerror(errno));
  buf[n] = 0;
  sigset_t old;
  block_signals(&old);
  int stale = 0;
  for (char *l = buf; *l;) {
    char *nl = strchr(l, '\n');
    if (nl) *nl = 0;
    char a[64], b[sizeof knobs[0].orig], c[64], id[64];
    int nt = sscanf(l, "%63s %23s %63s", a, b, c); /* a longer value splits into a third token: invalid */
    if (nt > 0 && a[0] == '#') {
      /* written before a reboot, which reset the knobs: nothing to restore */
      if (nt == 3 && !strcmp(a, "#") && !strcmp(b, "boot_id") && read_boot_id(id, sizeof id) && strcmp(id, c))
        stale = 1;
    } else if (nt > 0) {
      Knob *k = nt == 2 ? find_knob(a, 1) : NULL;
      if (!k || !value_ok(k->kind, b)) {
        for (int i = 0; i < NKNOBS; i++) knobs[i].changed = 0;
        sigprocmask(SIG_SETMASK, &old, NULL);
        die(EX_HOST, "host cannot serve: %s (left by a runner that died) has an invalid line '%s': "
            "check the THP sysfs knobs and remove it", JOURNAL_PATH, l);
      }
      snprintf(k->orig, sizeof k->orig, "%s", b);
      k->changed = 1;
    }
    if (!nl) break;
    l = nl + 1;
  }
  if (stale) {
    for (int i = 0; i < NKNOBS; i++) knobs[i].changed = 0;
    unlink(JOURNAL_PATH);
    sigprocmask(SIG_SETMASK, &old, NULL);
    return;
  }
  journal_live = 1;
  int bad = 0, e = restore_knobs(&bad);
  if (e) {
    for (int i = 0; i < NKNOBS; i++) knobs[i].changed = 0;
    journal_live = 0; /* keep it: the next run tries again */
    sigprocmask(SIG_SETMASK, &old, NULL);
    die(EX_HOST, "host cannot serve: cannot restore sysfs knob %s to %s as %s (left by a runner that died) says: %s",
        knobs[bad].name, knobs[bad].orig, JOURNAL_PATH, strerror(e));
  }
  sigprocmask(SIG_SETMASK, &old, NULL);
}

/* ------------------------------------------------------------------ */
/* host checks                                                          */

static void check_host(void) {
  char why[4096] = "";
  size_t w = 0;
#define WHY(...) (w += (size_t)snprintf(why + w, w < sizeof why ? sizeof why - w : 0, __VA_ARGS__))
  if (geteuid() != 0) WHY("not running as root (PFNs in pagemap and /proc/kpage* need root); ");
  if (sysconf(_SC_PAGESIZE) != (long)PAGE_SZ) WHY("page size is not 4 KiB; ");
  if (access("/proc/kpagecount", R_OK) != 0) WHY("/proc/kpagecount is not readable (%s); ", strerror(errno));
  if (access("/proc/kpageflags", R_OK) != 0) WHY("/proc/kpageflags is not readable (%s); ", strerror(errno));
  /* any THP settings are fine: a scenario sets the knobs it depends on */
  if (access(THP_DIR "enabled", F_OK) != 0) WHY("%senabled: %s (no THP support?); ", THP_DIR, strerror(errno));
#undef WHY
  if (w) {
    if (w >= 2 && w < sizeof why) why[w - 2] = 0;
    fprintf(stderr, "host cannot serve: %s\n", why);
    exit(EX_HOST);
  }
}

/* ------------------------------------------------------------------ */
/* interference counters                                                */

typedef struct {
  uint64_t fault_fallback, fault_fallback_charge, collapse_alloc_failed, split_page, zero_page_alloc_failed;
  uint64_t khugepaged_collapsed;
  uint64_t mthp_fault_fallback; /* sum of hugepages-NkB/stats/anon_fault_fallback, N < 2048 (mTHP) */
} Counters;

static void read_counters(Counters *c) {
  memset(c, 0, sizeof *c);
  char *s = slurp("/proc/vmstat", NULL);
  if (!s) die(EX_INTERNAL, "cannot read /proc/vmstat: %s", strerror(errno));
  for (char *l = s; *l;) {
    char *nl = strchr(l, '\n');
    if (nl) *nl = 0;
    char name[64];
    unsigned long long v;
    if (sscanf(l, "%63s %llu", name, &v) == 2) {
      if (!strcmp(name, "thp_fault_fallback")) c->fault_fallback = v;
      else if (!strcmp(name, "thp_fault_fallback_charge")) c->fault_fallback_charge = v;
      else if (!strcmp(name, "thp_collapse_alloc_failed")) c->collapse_alloc_failed = v;
      else if (!strcmp(name, "thp_split_page")) c->split_page = v;
      else if (!strcmp(name, "thp_zero_page_alloc_failed")) c->zero_page_alloc_failed = v;
    }
    if (!nl) break;
    l = nl + 1;
  }
  free(s);
  s = slurp("/sys/kernel/mm/transparent_hugepage/khugepaged/pages_collapsed", NULL);
  if (s) {
    c->khugepaged_collapsed = strtoull(s, NULL, 10);
    free(s);
  }
  /* an mTHP fault that found no free block of its order falls back to a lower one */
  static const int mthp_kb[] = {16, 32, 64, 128, 256, 512, 1024};
  for (size_t i = 0; i < sizeof mthp_kb / sizeof mthp_kb[0]; i++) {
    char path[128];
    snprintf(path, sizeof path, "/sys/kernel/mm/transparent_hugepage/hugepages-%dkB/stats/anon_fault_fallback", mthp_kb[i]);
    s = slurp(path, NULL);
    if (s) {
      c->mthp_fault_fallback += strtoull(s, NULL, 10);
      free(s);
    }
  }
}

static Counters start_counters;
static uint64_t own_splits; /* thp_split_page growth during split/shrink */

/* The message of the first interference seen since the start, or NULL. */
static const char *interference(void) {
  static char msg[512];
  Counters now;
  read_counters(&now);
  const Counters *b = &start_counters;
  if (now.khugepaged_collapsed != b->khugepaged_collapsed)
    snprintf(msg, sizeof msg, "interference: khugepaged collapsed %llu range(s) during the run",
             (unsigned long long)(now.khugepaged_collapsed - b->khugepaged_collapsed));
  else if (now.fault_fallback != b->fault_fallback || now.fault_fallback_charge != b->fault_fallback_charge)
    snprintf(msg, sizeof msg, "interference: a THP fault fell back to small pages (thp_fault_fallback +%llu, "
             "thp_fault_fallback_charge +%llu): no free 2 MiB block or memcg limit",
             (unsigned long long)(now.fault_fallback - b->fault_fallback),
             (unsigned long long)(now.fault_fallback_charge - b->fault_fallback_charge));
  else if (now.mthp_fault_fallback != b->mthp_fault_fallback)
    snprintf(msg, sizeof msg, "interference: an mTHP fault fell back to a lower order (anon_fault_fallback +%llu): "
             "no free block of that order",
             (unsigned long long)(now.mthp_fault_fallback - b->mthp_fault_fallback));
  else if (now.collapse_alloc_failed != b->collapse_alloc_failed)
    snprintf(msg, sizeof msg, "interference: a THP allocation for MADV_COLLAPSE failed (thp_collapse_alloc_failed +%llu)",
             (unsigned long long)(now.collapse_alloc_failed - b->collapse_alloc_failed));
  else if (now.zero_page_alloc_failed != b->zero_page_alloc_failed)
    snprintf(msg, sizeof msg, "interference: the huge zero page could not be allocated");
  else if (now.split_page - b->split_page > own_splits)
    snprintf(msg, sizeof msg, "interference: %llu THP(s) were split outside split/shrink (memory pressure or another process)",
             (unsigned long long)(now.split_page - b->split_page - own_splits));
  else
    return NULL;
  return msg;
}

/* ------------------------------------------------------------------ */
/* actor                                                                */

static sigjmp_buf segv_env;
static volatile sig_atomic_t in_touch;

static void segv_handler(int sig) {
  if (in_touch) siglongjmp(segv_env, 1);
  signal(sig, SIG_DFL);
  raise(sig);
}

static void actor_reply(int err, int pid, uint64_t val) {
  struct rep r = { err, pid, val };
  if (send(ACTOR_CHAN_FD, &r, sizeof r, MSG_NOSIGNAL) != (ssize_t)sizeof r) _exit(0);
}

/* Access every page of [a, a+len) ascending; 0, or EFAULT with *fault. */
static int actor_touch(uint64_t a, uint64_t len, int write, uint64_t *fault) {
  volatile uint64_t cur = a;
  if (sigsetjmp(segv_env, 1)) {
    in_touch = 0;
    *fault = cur;
    return EFAULT;
  }
  in_touch = 1;
  for (cur = a; cur < a + len; cur += PAGE_SZ) {
    volatile unsigned char *p = (volatile unsigned char *)(uintptr_t)cur;
    if (write) *p = 0x5a;
    else (void)*p;
  }
  in_touch = 0;
  return 0;
}

static _Noreturn void actor_loop(void) {
  for (;;) {
    struct cmd c;
    int fd = -1;
    union {
      char buf[CMSG_SPACE(sizeof(int))];
      struct cmsghdr align;
    } u;
    struct iovec iov = { &c, sizeof c };
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = u.buf;
    mh.msg_controllen = sizeof u.buf;
    ssize_t n = recvmsg(ACTOR_CHAN_FD, &mh, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n != (ssize_t)sizeof c) _exit(0); /* EOF: the controller is gone */
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
      if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS) memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    void *addr = (void *)(uintptr_t)c.a;
    switch (c.op) {
    case OP_MMAP: {
      int err = 0;
      void *p = mmap(addr, c.b, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
      if (p == MAP_FAILED) err = errno;
      else if (p != addr) {
        munmap(p, c.b);
        err = EEXIST;
      } else if (c.arg && madvise(addr, c.b, c.arg) != 0)
        err = errno;
      actor_reply(err, 0, 0);
      break;
    }
    case OP_TOUCH: {
      uint64_t fault = 0;
      int err = actor_touch(c.a, c.b, c.arg, &fault);
      actor_reply(err, 0, fault);
      break;
    }
    case OP_MUNMAP:
      actor_reply(munmap(addr, c.b) ? errno : 0, 0, 0);
      break;
    case OP_MPROTECT:
      actor_reply(mprotect(addr, c.b, c.arg) ? errno : 0, 0, 0);
      break;
    case OP_MADVISE:
      actor_reply(madvise(addr, c.b, c.arg) ? errno : 0, 0, 0);
      break;
    case OP_FORK: {
      if (fd < 0) {
        actor_reply(EBADF, 0, 0);
        break;
      }
      pid_t p = fork();
      if (p == 0) {
        /* the child serves its own channel from now on; PDEATHSIG is not
         * inherited, so it outlives its parent as the scenario wants */
        dup2(fd, ACTOR_CHAN_FD);
        close(fd);
        break;
      }
      int err = p < 0 ? errno : 0;
      close(fd);
      actor_reply(err, p < 0 ? 0 : p, 0);
      break;
    }
    case OP_EXIT:
      _exit(0);
    default:
      actor_reply(EINVAL, 0, 0);
    }
    if (fd >= 0 && c.op != OP_FORK) close(fd);
  }
}

/* In the fresh child of the controller: keep only the lock and the channel. */
static void actor_init_spawned(int chan) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != ctrl_pid) _exit(0);
  if (lock_fd != ACTOR_LOCK_FD) dup2(lock_fd, ACTOR_LOCK_FD);
  dup2(chan, ACTOR_CHAN_FD);
  int nul = open("/dev/null", O_RDWR);
  if (nul >= 0) {
    dup2(nul, 0);
    dup2(nul, 1);
  }
  syscall(SYS_close_range, 3U, (unsigned)ACTOR_LOCK_FD - 1, 0U);
  syscall(SYS_close_range, (unsigned)ACTOR_CHAN_FD + 1, ~0U, 0U);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  sigaction(SIGQUIT, &sa, NULL);
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, NULL);
  sigaction(SIGCHLD, &sa, NULL); /* children of actors are reaped automatically */
  sa.sa_handler = segv_handler;
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
}

/* ------------------------------------------------------------------ */
/* controller: processes and regions                                    */

static void on_signal(int sig) {
  if (getpid() != ctrl_pid) _exit(128 + sig); /* an actor not set up yet */
  /* knobs first, while the flock is ours (the actors hold it too) */
  int bad = 0;
  if (restore_knobs(&bad)) {
    static const char m1[] = "cannot restore sysfs knob ", m2[] = " (" JOURNAL_PATH " keeps it for the next run)\n";
    const char *name = knobs[bad].name;
    size_t n = 0;
    while (name[n]) n++;
    if (write(2, m1, sizeof m1 - 1) > 0 && write(2, name, n) > 0 && write(2, m2, sizeof m2 - 1) > 0) {
    }
  }
  for (int i = 0; i < sig_npids; i++) kill(sig_pids[i], SIGKILL);
  syscall(SYS_close_range, 3U, ~0U, 0U); /* EOF for every actor */
  while (waitpid(-1, NULL, 0) > 0 || errno == EINTR) {
  }
  _exit(128 + sig);
}

static void remember_pid(pid_t pid) {
  if (sig_npids < SIG_PIDS) {
    sig_pids[sig_npids] = pid;
    sig_npids = sig_npids + 1;
  }
}

static int find_proc(const char *name) {
  for (int i = 0; i < nprocs; i++)
    if (!strcmp(procs[i].name, name)) return i;
  return -1;
}

static Proc *live_proc(const char *name) {
  int i = find_proc(name);
  if (i < 0) die_line(EX_SCENARIO, "unknown process '%s'", name);
  if (!procs[i].alive) die_line(EX_SCENARIO, "process '%s' has exited", name);
  return &procs[i];
}

static Proc *new_proc(const char *name) {
  if (find_proc(name) >= 0) die_line(EX_SCENARIO, "process name '%s' is already used", name);
  if (nprocs == capprocs) {
    capprocs = capprocs ? capprocs * 2 : 16;
    procs = xrealloc(procs, sizeof *procs * (size_t)capprocs);
  }
  Proc *p = &procs[nprocs++];
  memset(p, 0, sizeof *p);
  snprintf(p->name, sizeof p->name, "%s", name);
  p->pidfd = p->chan = -1;
  return p;
}

static Region *find_region(Proc *p, const char *name) {
  for (int i = 0; i < p->nregs; i++)
    if (!strcmp(p->regs[i].name, name)) return &p->regs[i];
  return NULL;
}

static Region *add_region(Proc *p, const char *name, uint64_t start, uint64_t size) {
  if (p->nregs == p->capregs) {
    p->capregs = p->capregs ? p->capregs * 2 : 8;
    p->regs = xrealloc(p->regs, sizeof *p->regs * (size_t)p->capregs);
  }
  Region *r = &p->regs[p->nregs++];
  snprintf(r->name, sizeof r->name, "%s", name);
  r->start = start;
  r->size = size;
  return r;
}

static int pidfd_open_(pid_t pid) {
  return (int)syscall(SYS_pidfd_open, pid, 0);
}

static void attach(Proc *p, pid_t pid, int chan) {
  p->pid = pid;
  p->chan = chan;
  p->alive = 1;
  remember_pid(pid);
  p->pidfd = pidfd_open_(pid);
  if (p->pidfd < 0) {
    int e = errno;
    kill(pid, SIGKILL);
    if (e == ENOSYS) die(EX_HOST, "host cannot serve: pidfd_open is not supported by this kernel");
    die(EX_INTERNAL, "pidfd_open(%d): %s", (int)pid, strerror(e));
  }
}

/* Send a command (optionally passing an fd) and wait for the answer. */
static struct rep call(Proc *p, int op, int arg, uint64_t a, uint64_t b, int passfd) {
  struct cmd c = { op, arg, a, b };
  struct iovec iov = { &c, sizeof c };
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  memset(&u, 0, sizeof u);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  if (passfd >= 0) {
    mh.msg_control = u.buf;
    mh.msg_controllen = sizeof u.buf;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &passfd, sizeof passfd);
  }
  ssize_t n;
  do n = sendmsg(p->chan, &mh, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  if (n != (ssize_t)sizeof c) die_line(EX_INTERNAL, "process %s (pid %d) is gone: %s", p->name, (int)p->pid, strerror(errno));
  struct rep r;
  if (op == OP_EXIT) {
    memset(&r, 0, sizeof r);
    return r;
  }
  struct pollfd pf = { p->chan, POLLIN, 0 };
  int pr;
  do pr = poll(&pf, 1, REPLY_TIMEOUT_MS);
  while (pr < 0 && errno == EINTR);
  if (pr == 0) die_line(EX_INTERNAL, "process %s (pid %d) does not answer", p->name, (int)p->pid);
  do n = recv(p->chan, &r, sizeof r, 0);
  while (n < 0 && errno == EINTR);
  if (n != (ssize_t)sizeof r)
    die_line(EX_INTERNAL, "process %s (pid %d) died unexpectedly", p->name, (int)p->pid);
  return r;
}

/* Wait until P is really gone (address space torn down), reap what we can. */
static void wait_gone(Proc *p, int timeout_ms) {
  if (p->pidfd >= 0) {
    struct pollfd pf = { p->pidfd, POLLIN, 0 };
    int r;
    do r = poll(&pf, 1, timeout_ms);
    while (r < 0 && errno == EINTR);
    if (r == 0 && timeout_ms > 0) {
      kill(p->pid, SIGKILL);
      die_line(EX_INTERNAL, "process %s (pid %d) did not exit", p->name, (int)p->pid);
    }
  }
  waitpid(p->pid, NULL, WNOHANG); /* ours: a direct child, or reparented to us */
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

/* Kill every actor and wait until all are gone. Closing our ends of the
 * channels makes any actor not yet known here (mid-fork) exit too. As the
 * subreaper we become the parent of every orphaned actor, so once
 * waitpid() says ECHILD no descendant is left. */
static void cleanup_actors(void) {
  for (int i = 0; i < nprocs; i++) {
    Proc *p = &procs[i];
    if (p->alive) kill(p->pid, SIGKILL);
    p->alive = 0;
  }
  fflush(stderr);
  syscall(SYS_close_range, 3U, ~0U, 0U); /* channels, pidfds, /proc files, lock */
  for (int i = 0; i < nprocs; i++) procs[i].chan = procs[i].pidfd = -1;
  kpf_fd = kpc_fd = lock_fd = -1;
  long deadline = now_ms() + 20000;
  for (;;) {
    pid_t r = waitpid(-1, NULL, WNOHANG);
    if (r > 0) continue;
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) break; /* ECHILD: nothing left */
    if (now_ms() > deadline) {
      fprintf(stderr, "warning: some actor processes did not exit\n");
      break;
    }
    sleep_ms(1);
  }
}

/* ------------------------------------------------------------------ */
/* /proc readers                                                        */

static void read_pagemap(pid_t pid, uint64_t va, uint64_t npages, uint64_t *out) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/pagemap", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die(EX_INTERNAL, "open %s: %s", path, strerror(errno));
  size_t want = (size_t)npages * 8, got = 0;
  while (got < want) {
    ssize_t n = pread(fd, (char *)out + got, want - got, (off_t)((va / PAGE_SZ) * 8 + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) die(EX_INTERNAL, "read %s: %s", path, n < 0 ? strerror(errno) : "short read");
    got += (size_t)n;
  }
  close(fd);
}

static uint64_t kread(int fd, uint64_t pfn) {
  uint64_t v = 0;
  ssize_t n;
  do n = pread(fd, &v, 8, (off_t)(pfn * 8));
  while (n < 0 && errno == EINTR);
  if (n < 0) die(EX_INTERNAL, "read /proc/kpage* at pfn %#llx: %s", (unsigned long long)pfn, strerror(errno));
  return n == 8 ? v : 0; /* beyond the last PFN: nothing */
}

/* kpageflags by 512-PFN block, for the compound scans */
#define NCACHE 8
static struct {
  uint64_t block;
  int valid;
  uint64_t f[512];
} fcache[NCACHE];
static int fcache_next;

static void fcache_clear(void) {
  for (int i = 0; i < NCACHE; i++) fcache[i].valid = 0;
}

static uint64_t pflags(uint64_t pfn) {
  uint64_t block = pfn >> 9;
  for (int i = 0; i < NCACHE; i++)
    if (fcache[i].valid && fcache[i].block == block) return fcache[i].f[pfn & 511];
  int i = fcache_next;
  fcache_next = (fcache_next + 1) % NCACHE;
  memset(fcache[i].f, 0, sizeof fcache[i].f);
  size_t got = 0;
  while (got < sizeof fcache[i].f) {
    ssize_t n = pread(kpf_fd, (char *)fcache[i].f + got, sizeof fcache[i].f - got, (off_t)(block * 512 * 8 + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die(EX_INTERNAL, "read /proc/kpageflags: %s", strerror(errno));
    if (n == 0) break;
    got += (size_t)n;
  }
  fcache[i].block = block;
  fcache[i].valid = 1;
  return fcache[i].f[pfn & 511];
}

/* last compound folio resolved (pages of a region come in ascending order) */
static uint64_t last_head = UINT64_MAX, last_nr;

/* The folio of PFN: head PFN and order (flags = kpageflags of PFN). */
static void resolve(uint64_t pfn, uint64_t flags, uint64_t *head, int *order) {
  if (!(flags & (KPF_HEAD | KPF_TAIL))) {
    *head = pfn;
    *order = 0;
    return;
  }
  uint64_t h = pfn, n = 1;
  if (last_head != UINT64_MAX && pfn >= last_head && pfn < last_head + last_nr) {
    h = last_head;
    n = last_nr;
  } else {
    if (!(flags & KPF_HEAD)) {
      uint64_t lim = pfn > MAX_SCAN ? pfn - MAX_SCAN : 0;
      while (h > lim) {
        h--;
        if (pflags(h) & KPF_HEAD) break;
      }
      if (!(pflags(h) & KPF_HEAD))
        die(EX_INTERNAL, "cannot find the head of the compound page at pfn %#llx", (unsigned long long)pfn);
    }
    while (n < MAX_SCAN && (pflags(h + n) & (KPF_HEAD | KPF_TAIL)) == KPF_TAIL) n++;
    last_head = h;
    last_nr = n;
  }
  int o = 0;
  while ((1ULL << o) < n) o++;
  *head = h;
  *order = o;
}

static void forget_folios(void) {
  fcache_clear();
  last_head = UINT64_MAX;
  last_nr = 0;
}

/* The smaps lines a region record carries with THPEMU_RUNNER_SMAPS=1 (the
 * CLI's --smaps; docs/scenario-format.md), in this order. Referenced is not
 * one: it varies between runs. */
static const char *const SMAPS_KEYS[] = {
  "Rss", "Pss", "Pss_Dirty", "Shared_Clean", "Shared_Dirty", "Private_Clean", "Private_Dirty", "Anonymous", "AnonHugePages",
};
#define NSMAPS_KEYS (int)(sizeof SMAPS_KEYS / sizeof *SMAPS_KEYS)

typedef struct {
  uint64_t start, end, anon_huge;
  uint64_t kb[NSMAPS_KEYS]; /* the SMAPS_KEYS lines, in kB as printed */
} Vma;

/* Whether region records carry "smaps" (environment THPEMU_RUNNER_SMAPS=1). */
static int want_smaps(void) {
  const char *e = getenv("THPEMU_RUNNER_SMAPS");
  return e && !strcmp(e, "1");
}

/* VMAs of a process from smaps (or maps: anon_huge and kb stay 0). */
static Vma *read_vmas(pid_t pid, const char *file, int *nvp) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
  char *s = slurp(path, NULL);
  if (!s) die(EX_INTERNAL, "read %s: %s", path, strerror(errno));
  Vma *v = NULL;
  int nv = 0, cap = 0;
  for (char *l = s; *l;) {
    char *nl = strchr(l, '\n');
    if (nl) *nl = 0;
    unsigned long long a, b, kb;
    char c;
    if (sscanf(l, "%llx-%llx%c", &a, &b, &c) == 3 && c == ' ') {
      if (nv == cap) {
        cap = cap ? cap * 2 : 64;
        v = xrealloc(v, sizeof *v * (size_t)cap);
      }
      memset(&v[nv], 0, sizeof v[nv]);
      v[nv].start = a;
      v[nv].end = b;
      nv++;
    } else if (nv) {
      if (sscanf(l, "AnonHugePages: %llu kB", &kb) == 1) v[nv - 1].anon_huge = kb * 1024;
      /* "Key:   N kB": the SMAPS_KEYS lines */
      char *colon = strchr(l, ':');
      if (colon && sscanf(colon + 1, "%llu kB", &kb) == 1) {
        for (int k = 0; k < NSMAPS_KEYS; k++)
          if ((size_t)(colon - l) == strlen(SMAPS_KEYS[k]) && !strncmp(l, SMAPS_KEYS[k], (size_t)(colon - l))) v[nv - 1].kb[k] = kb;
      }
    }
    if (!nl) break;
    l = nl + 1;
  }
  free(s);
  *nvp = nv;
  return v;
}

/* ------------------------------------------------------------------ */
/* folio names within one dump: head PFN -> number                      */

static uint64_t *fmap_keys;
static int *fmap_vals;
static size_t fmap_cap, fmap_n;

static void fmap_clear(void) {
  if (fmap_keys) memset(fmap_keys, 0, sizeof *fmap_keys * fmap_cap);
  fmap_n = 0;
}

static size_t fmap_slot(uint64_t key) {
  uint64_t h = key * 0x9E3779B97F4A7C15ULL;
  size_t i = (size_t)(h >> 17) & (fmap_cap - 1);
  while (fmap_keys[i] && fmap_keys[i] != key + 1) i = (i + 1) & (fmap_cap - 1);
  return i;
}

/* The folio's number, a new one (next) when first seen. */
static int fmap_get(uint64_t key, int *next) {
  if (2 * (fmap_n + 1) > fmap_cap) {
    size_t oc = fmap_cap;
    uint64_t *ok = fmap_keys;
    int *ov = fmap_vals;
    fmap_cap = oc ? oc * 2 : 4096;
    fmap_keys = xrealloc(NULL, sizeof *fmap_keys * fmap_cap);
    fmap_vals = xrealloc(NULL, sizeof *fmap_vals * fmap_cap);
    memset(fmap_keys, 0, sizeof *fmap_keys * fmap_cap);
    for (size_t i = 0; i < oc; i++)
      if (ok[i]) {
        size_t j = fmap_slot(ok[i] - 1);
        fmap_keys[j] = ok[i];
        fmap_vals[j] = ov[i];
      }
    free(ok);
    free(ov);
  }
  size_t i = fmap_slot(key);
  if (!fmap_keys[i]) {
    fmap_keys[i] = key + 1;
    fmap_vals[i] = (*next)++;
    fmap_n++;
  }
  return fmap_vals[i];
}

/* ------------------------------------------------------------------ */
/* output                                                               */

static FILE *out;
static char *out_buf;
static size_t out_len;
static int ndumps;

static void json_str(FILE *f, const char *s) {
  fputc('"', f);
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    if (*p == '"' || *p == '\\') fprintf(f, "\\%c", *p);
    else if (*p < 0x20) fprintf(f, "\\u%04x", *p);
    else fputc(*p, f);
  }
  fputc('"', f);
}

static int cmp_proc(const void *a, const void *b) {
  return strcmp(procs[*(const int *)a].name, procs[*(const int *)b].name);
}

static int cmp_region(const void *a, const void *b) {
  return strcmp(((const Region *)a)->name, ((const Region *)b)->name);
}

static void do_dump(const char *label) {
  int dump = ++ndumps;
  forget_folios();
  fmap_clear();
  int next = 1;
  int *order = xrealloc(NULL, sizeof(int) * (size_t)(nprocs ? nprocs : 1));
  int nlive = 0;
  for (int i = 0; i < nprocs; i++)
    if (procs[i].alive) order[nlive++] = i;
  qsort(order, (size_t)nlive, sizeof *order, cmp_proc);
  for (int k = 0; k < nlive; k++) {
    Proc *p = &procs[order[k]];
    int nv;
    Vma *v = read_vmas(p->pid, "smaps", &nv);
    Region *regs = xrealloc(NULL, sizeof *regs * (size_t)(p->nregs ? p->nregs : 1));
    memcpy(regs, p->regs, sizeof *regs * (size_t)p->nregs);
    qsort(regs, (size_t)p->nregs, sizeof *regs, cmp_region);
    for (int ri = 0; ri < p->nregs; ri++) {
      Region *r = &regs[ri];
      uint64_t npages = r->size / PAGE_SZ;
      uint64_t *pm = xrealloc(NULL, sizeof *pm * (size_t)npages);
      read_pagemap(p->pid, r->start, npages, pm);
      uint64_t rss = 0;
      for (uint64_t i = 0; i < npages; i++) {
        uint64_t e = pm[i];
        if (!(e & PM_PRESENT)) {
          if (e & PM_SWAP)
            die(EX_INTERFERENCE, "interference: page %llu of %s %s is a swap/migration entry (compaction, reclaim?)",
                (unsigned long long)i, p->name, r->name);
          continue;
        }
        uint64_t pfn = e & PM_PFN_MASK;
        if (!pfn) die(EX_HOST, "host cannot serve: pagemap hides PFNs (need CAP_SYS_ADMIN)");
        uint64_t flags = kread(kpf_fd, pfn), head;
        int ord;
        resolve(pfn, flags, &head, &ord);
        char folio[32];
        long long mapcount = 0;
        if (flags & KPF_ZERO) {
          snprintf(folio, sizeof folio, "%s", ord ? "hzero" : "zero");
        } else {
          snprintf(folio, sizeof folio, "F%d", fmap_get(head, &next));
          mapcount = (long long)kread(kpc_fd, pfn);
          rss += PAGE_SZ;
        }
        fprintf(out, "{\"type\":\"page\",\"dump\":%d,\"label\":", dump);
        if (label) json_str(out, label);
        else fputs("null", out);
        fputs(",\"proc\":", out);
        json_str(out, p->name);
        fputs(",\"region\":", out);
        json_str(out, r->name);
        fprintf(out, ",\"page\":%llu,\"folio\":\"%s\",\"index\":%llu,\"order\":%d,\"mapcount\":%lld}\n",
                (unsigned long long)i, folio, (unsigned long long)(pfn - head), ord, mapcount);
      }
      uint64_t pmd = 0, skb[NSMAPS_KEYS] = {0};
      for (int j = 0; j < nv; j++)
        if (v[j].start >= r->start && v[j].start < r->start + r->size) {
          pmd += v[j].anon_huge;
          for (int k = 0; k < NSMAPS_KEYS; k++) skb[k] += v[j].kb[k];
        }
      fprintf(out, "{\"type\":\"region\",\"dump\":%d,\"label\":", dump);
      if (label) json_str(out, label);
      else fputs("null", out);
      fputs(",\"proc\":", out);
      json_str(out, p->name);
      fputs(",\"region\":", out);
      json_str(out, r->name);
      fprintf(out, ",\"rss\":%llu,\"pmdMapped\":%llu", (unsigned long long)rss, (unsigned long long)pmd);
      if (want_smaps()) {
        /* each VMA's lines in kB as printed, summed over the VMAs of the region */
        fputs(",\"smaps\":{", out);
        for (int k = 0; k < NSMAPS_KEYS; k++)
          fprintf(out, "%s\"%s\":%llu", k ? "," : "", SMAPS_KEYS[k], (unsigned long long)skb[k]);
        fputc('}', out);
      }
      fputs("}\n", out);
      free(pm);
    }
    free(regs);
    free(v);
  }
  free(order);
  if (ferror(out)) die(EX_INTERNAL, "cannot buffer the output");
}

/* ------------------------------------------------------------------ */
/* the at-dump hook (THPEMU_AT_DUMP)                                    */

/* With THPEMU_AT_DUMP=CMD in the environment, every `dump` also runs
 * `/bin/sh -c CMD` while the scenario's real processes are alive and
 * stopped between operations (test/procfs-tools.test.ts runs the kernel's
 * own /proc tools on them this way). CMD gets THPEMU_DUMP=N (1, 2, ...) and
 * THPEMU_INDEX, the JSON of the emulator's `--proc` index.json for the same
 * dump: {"pids":{NAME:PID},"regions":[{"proc","region","start","end"}]}
 * (live processes, addresses in bytes). Its stdout goes to our stderr (our
 * stdout is the JSONL); a non-zero exit is a runner failure (exit 3). */
static void at_dump_hook(int dump) {
  const char *cmd = getenv("THPEMU_AT_DUMP");
  if (!cmd || !*cmd) return;
  char *idx = NULL;
  size_t idx_len = 0;
  FILE *f = open_memstream(&idx, &idx_len);
  if (!f) die(EX_INTERNAL, "open_memstream: %s", strerror(errno));
  fputs("{\"pids\":{", f);
  int first = 1;
  for (int i = 0; i < nprocs; i++) {
    if (!procs[i].alive) continue;
    if (!first) fputc(',', f);
    first = 0;
    json_str(f, procs[i].name);
    fprintf(f, ":%d", (int)procs[i].pid);
  }
  fputs("},\"regions\":[", f);
  first = 1;
  for (int i = 0; i < nprocs; i++) {
    if (!procs[i].alive) continue;
    for (int j = 0; j < procs[i].nregs; j++) {
      Region *r = &procs[i].regs[j];
      if (!first) fputc(',', f);
      first = 0;
      fputs("{\"proc\":", f);
      json_str(f, procs[i].name);
      fputs(",\"region\":", f);
      json_str(f, r->name);
      fprintf(f, ",\"start\":%llu,\"end\":%llu}", (unsigned long long)r->start, (unsigned long long)(r->start + r->size));
    }
  }
  fputs("]}", f);
  if (fclose(f) != 0) die(EX_INTERNAL, "cannot build the at-dump index");
  char num[16];
  snprintf(num, sizeof num, "%d", dump);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) die(EX_INTERNAL, "fork for THPEMU_AT_DUMP: %s", strerror(errno));
  if (pid == 0) {
    setenv("THPEMU_DUMP", num, 1);
    setenv("THPEMU_INDEX", idx, 1);
    dup2(2, 1);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  free(idx);
  int st;
  while (waitpid(pid, &st, 0) < 0) {
    if (errno != EINTR) die(EX_INTERNAL, "waitpid THPEMU_AT_DUMP: %s", strerror(errno));
  }
  if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
    die(EX_INTERNAL, "THPEMU_AT_DUMP command failed at dump %d (status %d)", dump, WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}

/* ------------------------------------------------------------------ */
/* operations                                                           */

#define MAXTOK 8
typedef struct {
  int line;
  int argc;
  char *argv[MAXTOK];
} Op;

static int valid_name(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 32) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    int ok = c == '_' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return 0;
  }
  return 1;
}

/* decimal or 0x hex, optional K/M/G; a multiple of 4 KiB */
static int parse_num(const char *s, uint64_t *v) {
  char *end;
  errno = 0;
  if (!((s[0] >= '0' && s[0] <= '9'))) return 0;
  unsigned long long x = strtoull(s, &end, 0);
  if (errno || end == s) return 0;
  /* strtoull base 0 takes a leading 0 as octal: reject, the format has none */
  if (s[0] == '0' && s[1] >= '0' && s[1] <= '9') {
    x = strtoull(s, &end, 10);
    if (errno) return 0;
  }
  unsigned shift = 0;
  if (*end) {
    switch (*end) {
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    default: return 0;
    }
    if (end[1]) return 0;
  }
  if (x > (UINT64_MAX >> 1) >> shift) return 0;
  x <<= shift;
  if (x % PAGE_SZ) return 0;
  *v = x;
  return 1;
}

static void check_syntax(const Op *op) {
  static const struct {
    const char *kw;
    int min, max;
    const char *usage;
  } ar[] = {
    { "spawn", 1, 1, "spawn P" },
    { "mmap", 3, 4, "mmap P R SIZE [thp|nothp]" },
    { "touch", 4, 5, "touch P R OFF LEN [write|read]" },
    { "fork", 2, 2, "fork P Q" },
    { "exit", 1, 1, "exit P" },
    { "munmap", 4, 4, "munmap P R OFF LEN" },
    { "mprotect", 5, 5, "mprotect P R OFF LEN none|r|rw" },
    { "madvise", 5, 5, "madvise P R OFF LEN dontneed|hugepage|nohugepage|collapse" },
    { "split", 4, 4, "split P R OFF LEN" },
    { "shrink", 0, 0, "shrink" },
    { "dump", 0, 1, "dump [LABEL]" },
    { "inspect", 3, 3, "inspect P R OFF" },
    { "sysfs", 2, 2, "sysfs KNOB VALUE" },
  };
  cur_line = op->line;
  const char *kw = op->argv[0];
  int nargs = op->argc - 1;
  size_t k;
  for (k = 0; k < sizeof ar / sizeof ar[0]; k++)
    if (!strcmp(ar[k].kw, kw)) break;
  if (k == sizeof ar / sizeof ar[0]) die_line(EX_SCENARIO, "unknown operation '%s'", kw);
  if (nargs < ar[k].min || nargs > ar[k].max) die_line(EX_SCENARIO, "usage: %s", ar[k].usage);
  uint64_t v;
  if (!strcmp(kw, "dump") || !strcmp(kw, "shrink")) return;
  if (!strcmp(kw, "sysfs")) {
    const Knob *kn = find_knob(op->argv[1], 0);
    if (!kn) die_line(EX_SCENARIO, "unknown sysfs knob '%s'", op->argv[1]);
    if (!value_ok(kn->kind, op->argv[2]))
      die_line(EX_SCENARIO, "bad value '%s' for sysfs knob '%s' (expected %s)", op->argv[2], op->argv[1],
               knob_expected(kn->kind));
    return;
  }
  /* names: P, and R or Q */
  if (!valid_name(op->argv[1])) die_line(EX_SCENARIO, "invalid process name '%s'", op->argv[1]);
  if (nargs >= 2 && !valid_name(op->argv[2]))
    die_line(EX_SCENARIO, "invalid %s name '%s'", !strcmp(kw, "fork") ? "process" : "region", op->argv[2]);
  for (int i = 3; i < op->argc && i <= 4; i++) {
    if (!strcmp(kw, "mmap") && i == 4) break;
    if (!strcmp(kw, "inspect") && i == 4) break;
    if (!parse_num(op->argv[i], &v)) die_line(EX_SCENARIO, "invalid number '%s' (multiple of 4 KiB)", op->argv[i]);
  }
  const char *last = op->argv[op->argc - 1];
  if (!strcmp(kw, "mmap") && nargs == 4 && strcmp(last, "thp") && strcmp(last, "nothp"))
    die_line(EX_SCENARIO, "invalid mmap advice '%s'", last);
  if (!strcmp(kw, "touch") && nargs == 5 && strcmp(last, "write") && strcmp(last, "read"))
    die_line(EX_SCENARIO, "invalid touch mode '%s'", last);
  if (!strcmp(kw, "mprotect") && strcmp(last, "none") && strcmp(last, "r") && strcmp(last, "rw"))
    die_line(EX_SCENARIO, "invalid protection '%s'", last);
  if (!strcmp(kw, "madvise") && strcmp(last, "dontneed") && strcmp(last, "hugepage") && strcmp(last, "nohugepage") &&
      strcmp(last, "collapse"))
    die_line(EX_SCENARIO, "invalid madvise advice '%s'", last);
}

static uint64_t num(const char *s) {
  uint64_t v = 0;
  if (!parse_num(s, &v)) die_line(EX_SCENARIO, "invalid number '%s'", s);
  return v;
}

/* Region R of P, and [start+off, start+off+len) checked to lie inside it. */
static Region *range_of(Proc *p, const char *rname, uint64_t off, uint64_t len, uint64_t *a) {
  Region *r = find_region(p, rname);
  if (!r) die_line(EX_SCENARIO, "unknown region '%s' in process '%s'", rname, p->name);
  if (off > r->size || len > r->size - off)
    die_line(EX_SCENARIO, "range [%#llx, %#llx) is outside region %s (size %#llx)", (unsigned long long)off,
             (unsigned long long)(off + len), rname, (unsigned long long)r->size);
  *a = r->start + off;
  return r;
}

/* The mapped pieces (runs of adjacent VMAs) of [a, a+len) in P. */
static int mapped_pieces(Proc *p, uint64_t a, uint64_t len, uint64_t **piecesp) {
  int nv;
  Vma *v = read_vmas(p->pid, "maps", &nv);
  uint64_t *pc = NULL;
  int n = 0;
  for (int i = 0; i < nv; i++) {
    uint64_t s = v[i].start > a ? v[i].start : a;
    uint64_t e = v[i].end < a + len ? v[i].end : a + len;
    if (s >= e) continue;
    if (n && pc[2 * n - 1] == s) {
      pc[2 * n - 1] = e;
      continue;
    }
    pc = xrealloc(pc, sizeof *pc * 2 * (size_t)(n + 1));
    pc[2 * n] = s;
    pc[2 * n + 1] = e;
    n++;
  }
  free(v);
  *piecesp = pc;
  return n;
}

static void op_spawn(const char *name) {
  Proc *p = new_proc(name);
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) die(EX_INTERNAL, "socketpair: %s", strerror(errno));
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid < 0) die(EX_INTERNAL, "fork: %s", strerror(errno));
  if (pid == 0) {
    actor_init_spawned(sv[1]);
    actor_loop();
  }
  close(sv[1]);
  attach(p, pid, sv[0]);
}

static void op_fork(const char *parent, const char *child) {
  Proc *pp = live_proc(parent);
  int pi = (int)(pp - procs);
  Proc *q = new_proc(child);
  pp = &procs[pi]; /* new_proc may move the array */
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) die(EX_INTERNAL, "socketpair: %s", strerror(errno));
  struct rep r = call(pp, OP_FORK, 0, 0, 0, sv[1]);
  close(sv[1]);
  if (r.err) die_line(EX_INTERNAL, "fork in %s: %s", parent, strerror(r.err));
  attach(q, r.pid, sv[0]);
  nforks++;
  for (int i = 0; i < pp->nregs; i++) add_region(q, pp->regs[i].name, pp->regs[i].start, pp->regs[i].size);
}

static void op_exit(const char *name) {
  Proc *p = live_proc(name);
  call(p, OP_EXIT, 0, 0, 0, -1);
  wait_gone(p, EXIT_TIMEOUT_MS);
  close(p->chan);
  close(p->pidfd);
  p->chan = p->pidfd = -1;
  p->alive = 0;
}

static void op_mmap(const char *pname, const char *rname, uint64_t size, const char *advice) {
  Proc *p = live_proc(pname);
  if (find_region(p, rname)) die_line(EX_SCENARIO, "region name '%s' is already used in process '%s'", rname, pname);
  if (size == 0) die_line(EX_SCENARIO, "mmap size must be greater than 0");
  uint64_t end = next_top & ~(PMD_SZ - 1);
  if (size > end - 0x10000000000ULL) die_line(EX_SCENARIO, "mmap of %#llx bytes is too large", (unsigned long long)size);
  uint64_t start = (end - size) & ~(PMD_SZ - 1);
  next_top = start - PMD_SZ;
  int adv = !advice ? 0 : !strcmp(advice, "thp") ? MADV_HUGEPAGE : MADV_NOHUGEPAGE;
  struct rep r = call(p, OP_MMAP, adv, start, size, -1);
  if (r.err) die_line(EX_INTERNAL, "mmap in %s at %#llx: %s", pname, (unsigned long long)start, strerror(r.err));
  add_region(p, rname, start, size);
}

static void op_touch(const char *pname, const char *rname, uint64_t off, uint64_t len, const char *mode) {
  Proc *p = live_proc(pname);
  uint64_t a;
  Region *r = range_of(p, rname, off, len, &a);
  if (!len) return;
  int write = !mode || !strcmp(mode, "write");
  struct rep rep = call(p, OP_TOUCH, write, a, len, -1);
  if (rep.err == EFAULT)
    die_line(EX_SCENARIO, "access error: %s of %s %s offset %#llx (SIGSEGV)", write ? "write" : "read", pname, rname,
             (unsigned long long)(rep.val - r->start));
  if (rep.err) die_line(EX_INTERNAL, "touch: %s", strerror(rep.err));
}

static void op_munmap(const char *pname, const char *rname, uint64_t off, uint64_t len) {
  Proc *p = live_proc(pname);
  uint64_t a;
  range_of(p, rname, off, len, &a);
  if (!len) return;
  struct rep r = call(p, OP_MUNMAP, 0, a, len, -1);
  if (r.err) die_line(EX_INTERNAL, "munmap: %s", strerror(r.err));
}

/* mprotect / madvise on each mapped piece: holes are skipped, and each piece
 * is its own walk (a refused MADV_COLLAPSE stops only its piece) */
static void op_pieces(int op, const char *pname, const char *rname, uint64_t off, uint64_t len, int arg, const char *what) {
  Proc *p = live_proc(pname);
  uint64_t a;
  range_of(p, rname, off, len, &a);
  if (!len) return;
  uint64_t *pc;
  int n = mapped_pieces(p, a, len, &pc);
  for (int i = 0; i < n; i++) {
    struct rep r = call(p, op, arg, pc[2 * i], pc[2 * i + 1] - pc[2 * i], -1);
    if (r.err && !(op == OP_MADVISE && arg == MADV_COLLAPSE)) /* a refused collapse changes nothing */
      die_line(EX_INTERNAL, "%s: %s", what, strerror(r.err));
  }
  free(pc);
}

static void op_shrink(void) {
  Counters b, a;
  read_counters(&b);
  int fd = open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
  if (fd < 0) die(EX_HOST, "host cannot serve: /proc/sys/vm/drop_caches: %s", strerror(errno));
  if (write(fd, "2", 1) != 1) die(EX_INTERNAL, "write /proc/sys/vm/drop_caches: %s", strerror(errno));
  close(fd);
  read_counters(&a);
  own_splits += a.split_page - b.split_page;
}

typedef struct {
  uint64_t head, nr, va;
} Folio;

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Is P's page at va (still) mapped to a large non-zero folio? head in *head. */
static int large_at(Proc *p, uint64_t va, uint64_t *head, uint64_t *nr) {
  uint64_t e;
  read_pagemap(p->pid, va, 1, &e);
  if (!(e & PM_PRESENT)) return 0;
  uint64_t pfn = e & PM_PFN_MASK;
  uint64_t flags = kread(kpf_fd, pfn);
  if (!(flags & (KPF_HEAD | KPF_TAIL)) || (flags & KPF_ZERO)) return 0;
  forget_folios();
  int ord;
  resolve(pfn, flags, head, &ord);
  *nr = 1ULL << ord;
  return 1;
}

static void op_split(const char *pname, const char *rname, uint64_t off, uint64_t len) {
  Proc *p = live_proc(pname);
  uint64_t a;
  range_of(p, rname, off, len, &a);
  if (!len) return;
  uint64_t npages = len / PAGE_SZ;
  uint64_t *pm = xrealloc(NULL, sizeof *pm * (size_t)npages);
  read_pagemap(p->pid, a, npages, pm);
  forget_folios();
  Folio *fs = NULL;
  int nf = 0;
  for (uint64_t i = 0; i < npages; i++) {
    if (!(pm[i] & PM_PRESENT)) continue;
    uint64_t pfn = pm[i] & PM_PFN_MASK, head;
    uint64_t flags = kread(kpf_fd, pfn);
    if (!(flags & (KPF_HEAD | KPF_TAIL)) || (flags & KPF_ZERO)) continue; /* small, or the huge zero page */
    int ord;
    resolve(pfn, flags, &head, &ord);
    if (nf && fs[nf - 1].head == head) continue;
    int seen = 0;
    for (int j = 0; j < nf; j++) seen |= fs[j].head == head;
    if (seen) continue;
    fs = xrealloc(fs, sizeof *fs * (size_t)(nf + 1));
    fs[nf].head = head;
    fs[nf].nr = 1ULL << ord;
    fs[nf].va = a + i * PAGE_SZ;
    nf++;
  }
  free(pm);
  if (!nf) return;
  /* Every folio must be mapped by P only: MADV_COLD splits nothing else. */
  uint64_t *others = NULL;
  size_t no = 0;
  for (int k = 0; k < nprocs; k++) {
    Proc *q = &procs[k];
    if (!q->alive || q == p) continue;
    for (int ri = 0; ri < q->nregs; ri++) {
      uint64_t n = q->regs[ri].size / PAGE_SZ;
      uint64_t *qm = xrealloc(NULL, sizeof *qm * (size_t)n);
      read_pagemap(q->pid, q->regs[ri].start, n, qm);
      others = xrealloc(others, sizeof *others * (no + (size_t)n + 1));
      for (uint64_t i = 0; i < n; i++)
        if (qm[i] & PM_PRESENT) others[no++] = qm[i] & PM_PFN_MASK;
      free(qm);
    }
  }
  if (no) qsort(others, no, sizeof *others, cmp_u64);
  for (int j = 0; j < nf; j++) {
    int shared = 0;
    for (uint64_t pfn = fs[j].head; pfn < fs[j].head + fs[j].nr && !shared; pfn++) shared = kread(kpc_fd, pfn) > 1;
    /* first PFN >= head among the other processes' pages */
    size_t lo = 0, hi = no;
    while (lo < hi) {
      size_t mid = (lo + hi) / 2;
      if (others[mid] < fs[j].head) lo = mid + 1;
      else hi = mid;
    }
    if (lo < no && others[lo] < fs[j].head + fs[j].nr) shared = 1;
    if (shared) {
      fprintf(stderr, "unsupported: split of a THP shared by several processes cannot be checked on this kernel (line %d)\n",
              cur_line);
      free(others);
      free(fs);
      end_run();
      exit(EX_UNSUPPORTED);
    }
  }
  free(others);
  Counters b, c;
  read_counters(&b);
  for (int j = 0; j < nf; j++) {
    int done = 0;
    for (int t = 0; t < SPLIT_TRIES && !done; t++) {
      if (t) sleep_ms(5 * t);
      call(p, OP_MADVISE, MADV_COLD, fs[j].va, PAGE_SZ, -1); /* an error just means: not split */
      uint64_t h, nr;
      done = !large_at(p, fs[j].va, &h, &nr);
    }
    if (!done) {
      read_counters(&c);
      own_splits += c.split_page - b.split_page;
      const char *why = interference();
      if (why) die(EX_INTERFERENCE, "line %d: %s", cur_line, why);
      uint64_t at = fs[j].va - find_region(p, rname)->start;
      if (nforks) {
        /* Mapped by P alone now, but forked before: with CONFIG_MM_ID the
         * folio can keep its "maybe mapped shared" bit (a third sharer was
         * untracked), and MADV_COLD leaves such folios alone. */
        fprintf(stderr, "unsupported: split of a THP that was shared by several processes cannot be checked on this kernel "
                "(line %d: the THP at %s %s offset %#llx is mapped by %s alone, but MADV_COLD still treats it as "
                "maybe mapped shared)\n", cur_line, pname, rname, (unsigned long long)at, pname);
        end_run();
        exit(EX_UNSUPPORTED);
      }
      die_line(EX_SPLIT, "split failed: the THP at %s %s offset %#llx is still large after %d MADV_COLD", pname, rname,
               (unsigned long long)at, SPLIT_TRIES);
    }
  }
  read_counters(&c);
  own_splits += c.split_page - b.split_page;
  free(fs);
}

static void run_op(Op *op) {
  char **v = op->argv;
  const char *kw = v[0];
  cur_line = op->line;
  if (!strcmp(kw, "spawn")) op_spawn(v[1]);
  else if (!strcmp(kw, "fork")) op_fork(v[1], v[2]);
  else if (!strcmp(kw, "exit")) op_exit(v[1]);
  else if (!strcmp(kw, "mmap")) op_mmap(v[1], v[2], num(v[3]), op->argc > 4 ? v[4] : NULL);
  else if (!strcmp(kw, "touch")) op_touch(v[1], v[2], num(v[3]), num(v[4]), op->argc > 5 ? v[5] : NULL);
  else if (!strcmp(kw, "munmap")) op_munmap(v[1], v[2], num(v[3]), num(v[4]));
  else if (!strcmp(kw, "mprotect")) {
    int prot = !strcmp(v[5], "none") ? PROT_NONE : !strcmp(v[5], "r") ? PROT_READ : PROT_READ | PROT_WRITE;
    op_pieces(OP_MPROTECT, v[1], v[2], num(v[3]), num(v[4]), prot, "mprotect");
  } else if (!strcmp(kw, "madvise")) {
    int adv = !strcmp(v[5], "dontneed")   ? MADV_DONTNEED
              : !strcmp(v[5], "hugepage") ? MADV_HUGEPAGE
              : !strcmp(v[5], "nohugepage") ? MADV_NOHUGEPAGE
                                            : MADV_COLLAPSE;
    op_pieces(OP_MADVISE, v[1], v[2], num(v[3]), num(v[4]), adv, "madvise");
  } else if (!strcmp(kw, "split")) op_split(v[1], v[2], num(v[3]), num(v[4]));
  else if (!strcmp(kw, "shrink")) op_shrink();
  else if (!strcmp(kw, "dump")) {
    do_dump(op->argc > 1 ? v[1] : NULL);
    at_dump_hook(ndumps);
  }
  else if (!strcmp(kw, "sysfs")) op_sysfs(v[1], v[2]);
  else if (!strcmp(kw, "inspect")) {
    /* the emulator's struct page fields have no kernel counterpart: checked
     * like any access to the page's range, then skipped (no record) */
    uint64_t a;
    range_of(live_proc(v[1]), v[2], num(v[3]), PAGE_SZ, &a);
  }
  else die_line(EX_SCENARIO, "unknown operation '%s'", kw);
}

/* ------------------------------------------------------------------ */

/* Pin everything to one CPU: per-CPU LRU batches then always drain where
 * the faulting process runs, which keeps COW reuse decisions reproducible. */
static void pin_cpu(void) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof set, &set) != 0) return;
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &set)) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(c, &one);
      sched_setaffinity(0, sizeof one, &one);
      return;
    }
}

int main(int argc, char **argv) {
  (void)argv;
  if (argc > 1) {
    fprintf(stderr, "usage: kernel-runner < normalized-scenario > observations.jsonl\n");
    return EX_INTERNAL;
  }
  ctrl_pid = getpid();
  /* the scenario */
  size_t len;
  size_t cap = 65536;
  char *text = xrealloc(NULL, cap);
  len = 0;
  for (;;) {
    if (cap - len < 4096) text = xrealloc(text, cap *= 2);
    ssize_t n = read(0, text + len, cap - len - 1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) die(EX_INTERNAL, "read stdin: %s", strerror(errno));
    if (n == 0) break;
    len += (size_t)n;
  }
  text[len] = 0;
  Op *ops = NULL;
  int nops = 0, line = 0;
  for (char *l = text; *l;) {
    char *nl = strchr(l, '\n');
    if (nl) *nl = 0;
    line++;
    char *hash = strchr(l, '#');
    if (hash) *hash = 0;
    Op op;
    memset(&op, 0, sizeof op);
    op.line = line;
    for (char *t = strtok(l, " \t\r"); t; t = strtok(NULL, " \t\r")) {
      if (op.argc == MAXTOK) {
        cur_line = line;
        die_line(EX_SCENARIO, "too many tokens");
      }
      op.argv[op.argc++] = t;
    }
    if (op.argc) {
      check_syntax(&op);
      ops = xrealloc(ops, sizeof *ops * (size_t)(nops + 1));
      ops[nops++] = op;
    }
    if (!nl) break;
    l = nl + 1;
  }
  cur_line = 0;

  check_host();
  kpf_fd = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
  kpc_fd = open("/proc/kpagecount", O_RDONLY | O_CLOEXEC);
  if (kpf_fd < 0 || kpc_fd < 0) die(EX_HOST, "host cannot serve: /proc/kpage*: %s", strerror(errno));

  /* never leave an actor behind */
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  sigaction(SIGQUIT, &sa, NULL);
  sa.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &sa, NULL);
  prctl(PR_SET_CHILD_SUBREAPER, 1);

  /* one run at a time on this machine (held by the actors too, until they die) */
  lock_fd = open(LOCK_PATH, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (lock_fd < 0) die(EX_HOST, "host cannot serve: open %s: %s", LOCK_PATH, strerror(errno));
  while (flock(lock_fd, LOCK_EX) < 0) {
    if (errno != EINTR) die(EX_INTERNAL, "flock %s: %s", LOCK_PATH, strerror(errno));
  }
  recover_journal(); /* a previous runner died with knobs changed */

  pin_cpu();
  out = open_memstream(&out_buf, &out_len);
  if (!out) die(EX_INTERNAL, "open_memstream: %s", strerror(errno));
  read_counters(&start_counters);

  for (int i = 0; i < nops; i++) run_op(&ops[i]);
  cur_line = 0;

  const char *why = interference();
  if (why) die(EX_INTERFERENCE, "%s", why);
  if (end_run()) return EX_INTERNAL;
  if (fclose(out) != 0) die(EX_INTERNAL, "cannot buffer the output");
  size_t done = 0;
  while (done < out_len) {
    ssize_t n = write(1, out_buf + done, out_len - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      fprintf(stderr, "write stdout: %s\n", strerror(errno));
      return EX_INTERNAL;
    }
    done += (size_t)n;
  }
  return EX_OK;
}
