#!/bin/sh
# The kernel's own /proc tools, unmodified, for test/procfs-tools.test.ts
# and docs/procfs.md:
#   page-types  tools/mm/page-types.c of Debian's linux-source-6.12, built with cc
#   thpmaps     tools/mm/thpmaps of the same tarball (python3 + numpy)
#   smem        Debian's smem package
# Only those files are extracted from /usr/src/linux-source-6.12.tar.xz
# (page-types.c, thpmaps, the uapi headers page-types includes, and
# tools/lib/api for debugfs__mount, which only its hwpoison options call),
# then page-types is compiled and both are cached in
# ${XDG_CACHE_HOME:-~/.cache}/thpemu/tools (override: THPEMU_TOOLS_DIR).
#
# Packages (linux-source-6.12, smem, python3-numpy) are installed with
# apt-get only when CI is set (not "", "0", "false") or THPEMU_INSTALL_TOOLS=1,
# and we are root; otherwise a missing package is reported and the tests
# that need it skip, saying why.
#
# Prints the tools directory on stdout. Exit status: 0 all three tools are
# there; 1 something is missing (the reason on stderr).
set -u
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/thpemu/tools"
DIR="${THPEMU_TOOLS_DIR:-$CACHE}"
TARBALL=/usr/src/linux-source-6.12.tar.xz
TOP=linux-source-6.12
say() { echo "proc-tools: $*" >&2; }

may_install() {
  case "${CI:-}" in ""|0|false|FALSE|False) ;; *) return 0 ;; esac
  [ "${THPEMU_INSTALL_TOOLS:-}" = 1 ]
}
install_pkgs() {
  if ! may_install; then say "missing $*; set THPEMU_INSTALL_TOOLS=1 (root, apt) to install"; return 1; fi
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then say "missing $*: need root and apt-get to install"; return 1; fi
  say "installing $* (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1 \
    || { apt-get update -q >/dev/null 2>&1; apt-get install -y -q --no-install-recommends "$@" >&2; }
}

mkdir -p "$DIR" || { say "cannot create $DIR"; exit 1; }
ok=0

# page-types and thpmaps from the kernel source tarball
if [ ! -x "$DIR/page-types" ] || [ ! -x "$DIR/thpmaps" ]; then
  [ -f "$TARBALL" ] || install_pkgs linux-source-6.12
  if [ -f "$TARBALL" ]; then
    CC=$(command -v cc || command -v gcc || command -v clang)
    if [ -z "$CC" ]; then
      say "no C compiler (cc, gcc, clang) to build page-types"; ok=1
    else
      SRC=$(mktemp -d) || exit 1
      trap 'rm -rf "$SRC"' EXIT
      if tar -xJf "$TARBALL" -C "$SRC" \
          "$TOP/tools/mm/page-types.c" "$TOP/tools/mm/thpmaps" \
          "$TOP/include/uapi/linux/kernel-page-flags.h" "$TOP/include/uapi/linux/magic.h" \
          "$TOP/tools/include" "$TOP/tools/lib/api"; then
        K="$SRC/$TOP"
        if "$CC" -O2 -w -I"$K/tools/include" -I"$K/tools/lib" -I"$K/tools/lib/api" \
            -o "$DIR/page-types.tmp" "$K/tools/mm/page-types.c" "$K/tools/lib/api/fs/fs.c" "$K/tools/lib/api/debug.c"; then
          mv "$DIR/page-types.tmp" "$DIR/page-types"
        else
          say "building page-types failed"; ok=1
        fi
        cp "$K/tools/mm/thpmaps" "$DIR/thpmaps.tmp" && chmod 755 "$DIR/thpmaps.tmp" && mv "$DIR/thpmaps.tmp" "$DIR/thpmaps"
      else
        say "cannot extract the tools from $TARBALL"; ok=1
      fi
    fi
  else
    say "no $TARBALL (Debian's linux-source-6.12)"; ok=1
  fi
fi

# thpmaps needs numpy
if ! python3 -c 'import numpy' >/dev/null 2>&1; then
  install_pkgs python3-numpy
  python3 -c 'import numpy' >/dev/null 2>&1 || { say "python3 cannot import numpy (thpmaps needs it)"; ok=1; }
fi

# smem
if ! command -v smem >/dev/null 2>&1; then
  install_pkgs smem
  command -v smem >/dev/null 2>&1 || { say "no smem"; ok=1; }
fi

[ -x "$DIR/page-types" ] && [ -x "$DIR/thpmaps" ] || ok=1
echo "$DIR"
exit $ok
