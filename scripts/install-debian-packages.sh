#!/usr/bin/env bash
# Install the Debian packages named that are missing, without starting or enabling the services they bring:
# the demo and the tests run their own throw-away servers, so a Prosody (or ejabberd, PostgreSQL) started by
# Debian would only hold ports and come back at every boot. Run as root; nothing to do (and no root needed)
# when every package is installed already. Used by demo.sh.
#   bash scripts/install-debian-packages.sh prosody prosody-modules
# While apt-get runs, /usr/sbin/policy-rc.d answers 101 ("action forbidden") to every start the packages'
# maintainer scripts ask for (invoke-rc.d and deb-systemd-invoke ask it; a policy-rc.d the machine already has
# is left as it is); afterwards the systemd units and init scripts of every package that was installed,
# dependencies included, are disabled again (deb-systemd-helper, update-rc.d: the tools the maintainer scripts
# enabled them with, so a later upgrade keeps them disabled).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

missing=()
for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
((${#missing[@]})) || exit 0
if [ "$(id -u)" != 0 ]; then
  echo "install-debian-packages: missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install -y ${missing[*]}, then stop and disable the services it starts)" >&2
  exit 1
fi

installed() { dpkg-query -W -f '${db:Status-Abbrev} ${Package}\n' | awk '$1 == "ii" { print $2 }' | sort; }
before=$(installed)

policy=${XMPPKIT_POLICY_RC_D:-/usr/sbin/policy-rc.d} # the demo's test points it elsewhere (and stubs apt-get)
if [ ! -e "$policy" ]; then
  trap 'rm -f "$policy"' EXIT
  trap 'exit 130' INT TERM HUP
  printf '#!/bin/sh\n# Written by xmppkit scripts/install-debian-packages.sh while apt-get runs; removed after it.\nexit 101\n' >"$policy"
  chmod 755 "$policy"
fi
echo "install-debian-packages: installing ${missing[*]} (their services neither started nor enabled)"
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null

for pkg in $(comm -13 <(echo "$before") <(installed)); do
  while read -r file; do
    case "$file" in
    /lib/systemd/system/*@.*) ;; # a template is never enabled as such
    /lib/systemd/system/*.service | /lib/systemd/system/*.socket | /lib/systemd/system/*.timer | /lib/systemd/system/*.path | \
      /usr/lib/systemd/system/*.service | /usr/lib/systemd/system/*.socket | /usr/lib/systemd/system/*.timer | /usr/lib/systemd/system/*.path)
      deb-systemd-helper disable "${file##*/}" >/dev/null 2>&1 || true
      ;;
    /etc/init.d/*) update-rc.d "${file##*/}" disable >/dev/null 2>&1 || true ;;
    esac
  done < <(dpkg -L "$pkg")
done
