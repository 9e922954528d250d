#!/usr/bin/env bash
# Today's servers beside Debian 12's own: Prosody 13 (+ prosody-modules) and ejabberd 24.12 from
# bookworm-backports, installed in a Debian 12 chroot so that 0.12.3 and 23.01 stay on the host. The test
# harness (@xmppkit/testing) starts a server from an installation root: `root: <dir>` or
# XMPPKIT_BACKPORTS_ROOT for the suite's "today" targets.
#
# Why a chroot and not extracted packages under a prefix: ejabberd 24.12 needs newer Erlang libraries
# (erlang-p1-*) with the same names as 23.01's, and Prosody's paths are compiled into its launcher; a chroot
# keeps both versions whole, made from Debian's own packages. Measured on the 2-core machine: ~95 s
# debootstrap + ~60 s apt, ~430 MB; a ready root is reused (a stamp file names the versions), so a second
# run costs ~0.05 s. Needs root (debootstrap, chroot). The servers in it share the host's network and
# listen on the host's loopback.
#
#   bash scripts/backports-servers.sh [root]     (default /var/lib/xmppkit/bookworm-backports)
set -euo pipefail

root="${1:-${XMPPKIT_BACKPORTS_ROOT:-/var/lib/xmppkit/bookworm-backports}}"
packages=(prosody prosody-modules lua-dbi-sqlite3 ejabberd)
stamp="$root/.xmppkit-ready"

if [ -f "$stamp" ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "backports-servers: building $root needs root (debootstrap, chroot)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
started=$SECONDS

# The Debian mirror the host already uses (apt's own configuration; nothing is named here).
mirror="$(apt-cache policy 2>/dev/null | awk '$3 ~ /^bookworm\/main$/ { print $2; exit }')"
if [ -z "$mirror" ]; then
  apt-get update -qq
  mirror="$(apt-cache policy 2>/dev/null | awk '$3 ~ /^bookworm\/main$/ { print $2; exit }')"
fi
[ -n "$mirror" ] || { echo "backports-servers: no bookworm/main source in apt's configuration" >&2; exit 1; }
command -v debootstrap >/dev/null 2>&1 || apt-get install -y -qq debootstrap >/dev/null

work="$root.partial"
umount_all() { for m in proc dev/pts; do mountpoint -q "$work/$m" 2>/dev/null && umount -l "$work/$m"; done; return 0; }
trap umount_all EXIT
umount_all
rm -rf "$work"
mkdir -p "$(dirname "$root")"
echo "backports-servers: debootstrap bookworm into $root (from $mirror)"
debootstrap --variant=minbase bookworm "$work" "$mirror" >"$work.log" 2>&1 || {
  tail -20 "$work.log" >&2
  exit 1
}

echo "deb $mirror bookworm-backports main" >"$work/etc/apt/sources.list.d/backports.list"
# No service starts inside the chroot: the harness starts each server itself.
printf '#!/bin/sh\nexit 101\n' >"$work/usr/sbin/policy-rc.d"
chmod +x "$work/usr/sbin/policy-rc.d"
# The ejabberd user with the host's uid/gid when the host has one, so files the harness writes are its.
if id ejabberd >/dev/null 2>&1; then
  uid="$(id -u ejabberd)"
  gid="$(id -g ejabberd)"
  grep -q '^ejabberd:' "$work/etc/group" || echo "ejabberd:x:$gid:" >>"$work/etc/group"
  grep -q '^ejabberd:' "$work/etc/passwd" || echo "ejabberd:x:$uid:$gid:ejabberd:/var/lib/ejabberd:/bin/sh" >>"$work/etc/passwd"
fi

mount -t proc proc "$work/proc"
mkdir -p "$work/dev/pts" && mount --bind /dev/pts "$work/dev/pts"
chroot "$work" apt-get update -qq
chroot "$work" apt-get install -y -qq --no-install-recommends -t bookworm-backports "${packages[@]}" >"$work.apt.log" 2>&1 || {
  tail -20 "$work.apt.log" >&2
  exit 1
}
chroot "$work" apt-get clean
umount_all

chroot "$work" dpkg-query -W -f '${Package} ${Version}\n' "${packages[@]}" >"$work/.xmppkit-ready"
rm -rf "$root"
mv "$work" "$root"
rm -f "$work.log" "$work.apt.log"
echo "backports-servers: ready in $((SECONDS - started)) s: $(tr '\n' ' ' <"$stamp")($(du -sh "$root" | cut -f1))"
