#!/usr/bin/env bash
# Build the release binaries and pack one tarball per target:
#   dist/edgemark-VERSION-TARGET.tar.xz  (binary, systemd/, boards/, README,
#   licenses, shell completions, man pages) and dist/SHA256SUMS.
#
#   scripts/dist.sh                       # all three targets
#   scripts/dist.sh x86_64-unknown-linux-musl   # some of them
#
# Release profile = fat LTO: ~15 min a target on 2 cores. Tools: see
# scripts/ci-cross.sh (it installs them); this script only checks for them.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl armv7-unknown-linux-gnueabihf)
: "${CARGO_TARGET_DIR:=target}"
export CARGO_TARGET_DIR
VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
# Stamp the binary (src/version.rs; a build script may set it too) and make the
# tarballs reproducible from the commit.
EDGEMARK_GIT_HASH=${EDGEMARK_GIT_HASH:-$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export EDGEMARK_GIT_HASH SOURCE_DATE_EPOCH
DIST=dist
# Only for trying the packaging quickly: ships whatever profile is named.
PROFILE=${DIST_PROFILE:-release}
mkdir -p "$DIST"

features_for() { case "$1" in *-musl) echo "--features mimalloc" ;; *) echo "" ;; esac; }
# How to run a target's binary on this (x86_64) host, for `edgemark generate`.
runner_for() {
  case "$1" in
    x86_64-*) echo "" ;;
    aarch64-*) echo "qemu-aarch64" ;;
    armv7-*) echo "qemu-arm -L /usr/arm-linux-gnueabihf" ;;
  esac
}

for t in "${TARGETS[@]}"; do
  echo "== $t: cargo build --profile $PROFILE"
  # shellcheck disable=SC2046
  EDGEMARK_TARGET=$t nice -n 19 cargo build --locked --profile "$PROFILE" --target "$t" $(features_for "$t") --bin edgemark
  bin="$CARGO_TARGET_DIR/$t/$PROFILE/edgemark"
  desc=$(file -b "$bin")
  case "$desc" in
    *"statically linked"*|*"static-pie linked"*) ;;
    *) echo "FAIL: $bin is not static: $desc" >&2; exit 1 ;;
  esac
  if ldd "$bin" 2>&1 | grep -q '=>'; then echo "FAIL: $bin has dynamic deps" >&2; exit 1; fi
  echo "   $(stat -c %s "$bin") bytes; $desc"

  name="edgemark-$VERSION-$t"
  stage=$(mktemp -d)
  dir="$stage/$name"
  mkdir -p "$dir/completions" "$dir/man"
  install -m 0755 "$bin" "$dir/edgemark"
  # shellcheck disable=SC2046
  $(runner_for "$t") "$bin" generate completions --out "$dir/completions"
  # shellcheck disable=SC2046
  $(runner_for "$t") "$bin" generate man --out "$dir/man"
  cp -r boards "$dir/"
  cp README.md LICENSE-MIT LICENSE-APACHE "$dir/"
  if [ -d systemd ]; then
    cp -r systemd "$dir/"
  else
    echo "WARNING: no systemd/ in the tree; the tarball ships without units" >&2
  fi
  # Same bytes for the same commit: fixed order, owner and mtime; xz from a
  # pipe stores no name or time, and one thread (-T1) gives the same bytes on
  # every machine. xz -9e: for x86_64-musl the 19.5 MB tar became 4,748,568 B
  # (issue 15 asks <= 6 MB), gzip -9 6,805,330 B (2026-12-04).
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
    -C "$stage" -cf - "$name" | xz -T1 -9e > "$DIST/$name.tar.xz"
  rm -rf "$stage"
  echo "   wrote $DIST/$name.tar.xz: $(stat -c %s "$DIST/$name.tar.xz") bytes"
done

(cd "$DIST" && sha256sum edgemark-*.tar.xz > SHA256SUMS && cat SHA256SUMS)
