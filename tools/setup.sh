#!/usr/bin/env bash
# Installs every Debian package that building, testing and benchmarking exmsync
# needs. Idempotent: packages already present are not fetched again.
set -euo pipefail

packages=(
  # toolchain
  g++ cmake make pkg-config git ca-certificates
  # libraries exmsync links
  libboost-filesystem-dev libxxhash-dev libarchive-dev libzstd-dev
  libspdlog-dev libfmt-dev libcli11-dev libtomlplusplus-dev nlohmann-json3-dev
  libssh-dev libsmbclient-dev libutf8proc-dev
  # tests: GoogleTest, real peers to compare against, real servers on loopback
  libgtest-dev googletest xxhash rsync zstd openssh-server openssh-client samba smbclient faketime
  python3-jsonschema bash-completion
  # benchmarks
  time hyperfine procps findutils rclone
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo)
  else
    echo "setup: need root to install: ${missing[*]} (run as root or install sudo)" >&2
    exit 2
  fi
fi

echo "setup: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
