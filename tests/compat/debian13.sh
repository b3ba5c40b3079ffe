#!/usr/bin/env bash
# lt built and tested on Debian 13 (LibTorch 2.6, GCC 14, HDF5 1.14,
# OpenCV 4.10, CLI11 2.4) inside a chroot, from a Debian 12 machine: what a
# LibTorch 2.x build runs, short of a GPU. Needs root, debootstrap and about
# 4 GB in DIR; about 30 minutes on 2 cores the first time (the system, the
# packages, the build), then the build and the tests only. Not a ctest.
#   sudo tests/compat/debian13.sh DIR [ctest arguments]
# The commit tested is this checkout's HEAD (uncommitted changes are not).
# One known difference there: Debian 13 builds torchrun's store without
# libuv, and torchrun then fails before it starts anything, so the
# data-parallel tests run under scripts/lt-launch (LT_TEST_LAUNCHER=own).
set -euo pipefail
root=${1:?usage: tests/compat/debian13.sh DIR [ctest arguments]}
shift
src=$(cd "$(dirname "$0")/../.." && pwd)
mirror=${LT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
mkdir -p "$root"
root=$(cd "$root" && pwd)
if [ ! -x "$root/usr/bin/apt-get" ]; then
  debootstrap --variant=minbase trixie "$root" "$mirror"
fi
for fs in proc sys dev; do
  mountpoint -q "$root/$fs" || mount --bind "/$fs" "$root/$fs"
done
trap 'for fs in dev sys proc; do umount "$root/$fs" 2>/dev/null || true; done' EXIT
cp /etc/resolv.conf "$root/etc/resolv.conf"
echo "deb $mirror trixie main" >"$root/etc/apt/sources.list"
# setup.sh's packages, with python3-torch for torchrun.
packages=$(sed -n '/^packages=(/,/^)/p' "$src/scripts/setup.sh" | sed 's/#.*//; s/packages=(//; s/)//' | tr -s ' \n' ' ')
chroot "$root" bash -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
  --no-install-recommends $packages libtorch-dev python3-torch curl xz-utils ca-certificates >/dev/null"
rm -rf "$root/src/lt"
mkdir -p "$root/src"
git clone -q "$src" "$root/src/lt"
chroot "$root" bash -c 'cd /src/lt && cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null &&
  cmake --build build -j "$(nproc)" >build.log 2>&1 || { grep -m 20 -A 5 "error" build.log; exit 1; }'
chroot "$root" env LT_TEST_LAUNCHER=own bash -c 'cd /src/lt && ctest --test-dir build --output-on-failure -j 2 "$@"' ctest "$@"
