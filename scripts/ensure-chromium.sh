#!/bin/sh
# Make sure a headless-capable Chromium is at /usr/bin/chromium for the
# browser test (test/browser.test.ts). Installs Debian's `chromium` package
# with apt-get when it is missing and we are root; otherwise does nothing.
# `npm test` runs it only in CI (CI set to anything but "", "0" or "false") or with
# THPEMU_INSTALL_CHROMIUM=1; without those a missing Chromium skips the
# browser tests instead. Run it by hand (as root) to install Chromium once.
# Exit status: 0 when /usr/bin/chromium is there afterwards, 1 when not (the
# test then fails, saying why).
set -u
CHROMIUM=/usr/bin/chromium
if [ -x "$CHROMIUM" ]; then
  echo "ensure-chromium: $CHROMIUM is present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "ensure-chromium: $CHROMIUM is missing and we are not root (install Debian's chromium package)" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: $CHROMIUM is missing and there is no apt-get" >&2
  exit 1
fi
echo "ensure-chromium: installing Debian's chromium package (apt-get)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >/dev/null 2>&1 || apt-get update
apt-get install -y -q --no-install-recommends chromium fonts-dejavu-core >/dev/null 2>&1 \
  || apt-get install -y --no-install-recommends chromium
if [ -x "$CHROMIUM" ]; then
  echo "ensure-chromium: installed $($CHROMIUM --version 2>/dev/null || echo chromium)"
  exit 0
fi
echo "ensure-chromium: installing chromium failed" >&2
exit 1
