#!/usr/bin/env bash
# lt's LibTorch code against LibTorch 2.x's headers. This machine builds
# against Debian 12's LibTorch 1.13; a CUDA build (README, GPUs) uses a 2.x
# one, whose API differs where lt's TORCH_VERSION guards say. Every source
# of the build that includes LibTorch (and the NCCL variant of
# lt/learn/distributed.cpp, where the build compiles it) is compiled here,
# syntax only, against the headers of Debian 13's libtorch-dev (2.6), taken
# from its package (downloaded once into the build folder) and put before
# the installed ones. Nothing is linked: the package's libraries are not
# used. Skipped (77) when the package cannot be downloaded.
#   LT_BUILD=build LT_SRC=. bash tests/compat/libtorch2.sh
set -euo pipefail
build=$(cd "${LT_BUILD:?set LT_BUILD to the build folder}" && pwd)
mirror=${LT_DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=${LT_DEBIAN_SUITE:-trixie}
cache=$build/compat/libtorch-$suite
commands=$build/compile_commands.json
[ -f "$commands" ] || { echo "libtorch2: no $commands (CMAKE_EXPORT_COMPILE_COMMANDS)" >&2; exit 1; }

if [ ! -f "$cache/root/usr/include/torch/csrc/api/include/torch/version.h" ]; then
  rm -rf "$cache" && mkdir -p "$cache"
  if ! curl -fsS -m 60 -o "$cache/Packages.xz" "$mirror/dists/$suite/main/binary-amd64/Packages.xz"; then
    echo "skipped: $mirror/dists/$suite cannot be read"; exit 77
  fi
  file=$(xz -dc "$cache/Packages.xz" | awk '/^Package: / {p = ($2 == "libtorch-dev")} p && /^Filename: / && !found++ {print $2}')
  [ -n "$file" ] || { echo "libtorch2: no libtorch-dev in $suite's package list" >&2; exit 1; }
  if ! curl -fsS -m 300 -o "$cache/libtorch-dev.deb" "$mirror/$file"; then
    echo "skipped: $mirror/$file cannot be downloaded"; exit 77
  fi
  dpkg -x "$cache/libtorch-dev.deb" "$cache/root.partial"
  mv "$cache/root.partial" "$cache/root"
fi
version=$(awk '/^#define TORCH_VERSION_(MAJOR|MINOR|PATCH) / {v = v (v == "" ? "" : ".") $3} END {print v}' \
  "$cache/root/usr/include/torch/csrc/api/include/torch/version.h")
echo "LibTorch $version: the headers of $suite's libtorch-dev"

src=$(cd "$(dirname "$0")/../.." && pwd)
python3 - "$commands" "$cache/root/usr/include" "$src" <<'PY'
import concurrent.futures, json, os, re, subprocess, sys

commands, include, src = sys.argv[1:4]
torch_api = "-isystem /usr/include/torch/csrc/api/include"

def syntax_only(command):
    command = command.replace("ccache ", "", 1)
    command = re.sub(r" -MD -MT \S+ -MF \S+| -o \S+| -include \S+cmake_pch\.hxx| -Winvalid-pch", "", command)
    command = command.replace(torch_api, f"-isystem {include}/torch/csrc/api/include -isystem {include}")
    return command.replace(" -c ", " -fsyntax-only -c ", 1)

# One source in several targets, compiled alike, is checked once.
jobs = {}
for entry in json.load(open(commands)):
    if entry["file"].endswith(".cpp") and torch_api in entry["command"]:
        jobs.setdefault(syntax_only(entry["command"]), entry)
if not jobs:
    sys.exit("libtorch2: no source of the build includes LibTorch's headers from /usr/include")

def run(item):
    command, entry = item
    return entry, subprocess.run(command, shell=True, cwd=entry["directory"], capture_output=True, text=True)

failed = 0
with concurrent.futures.ThreadPoolExecutor(2) as pool:
    for entry, done in pool.map(run, jobs.items()):
        variant = " (NCCL)" if "-DUSE_C10D_NCCL" in entry["command"] else ""
        print(f"{'ok  ' if done.returncode == 0 else 'FAIL'} {os.path.relpath(entry['file'], src)}{variant}")
        if done.returncode != 0:
            failed += 1
            errors = [line for line in done.stderr.splitlines() if "error" in line]
            print("\n".join(errors[:10]) or done.stderr[-2000:])
print(f"libtorch2: {len(jobs) - failed} of {len(jobs)} sources compile against these headers")
sys.exit(1 if failed else 0)
PY
