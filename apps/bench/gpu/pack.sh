#!/usr/bin/env bash
# apps/bench/gpu/pack.sh — builds the self-contained folder that apps/bench/gpu/run.sh runs on a GPU
# machine with no Node.js and no network (shared/docs/GPU.md, "Running a benchmark on a GPU machine"):
#   node.xz                 this machine's Node binary, xz-compressed (needs only glibc)
#   gpu.mjs                 apps/bench/src/main.ts bundled by esbuild (pnpm's symlinked node_modules
#                           do not travel); `webgpu` stays external and is loaded from node_modules/
#   node_modules/webgpu/    index.js, package.json, dist/linux-x64/dawn.node.xz (Dawn over Vulkan)
#   python/                 the PyTorch baseline scripts (found beside gpu.mjs, src/pytorch.ts)
#   debs/                   Debian's libvulkan1 for amd64, unpacked into / there when it has no loader
#   MANIFEST                what was packed, from which commit
# Default destination: <repo>/.gpu-bench, which this script adds to .git/info/exclude (keep it out of
# git; name it in the device tool's `carry`). Run from anywhere: bash apps/bench/gpu/pack.sh [DEST]
set -euo pipefail

bench=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
root=$(git -C "$bench" rev-parse --show-toplevel)
dest=${1:-$root/.gpu-bench}
esbuild=$bench/node_modules/.bin/esbuild
webgpu=$(cd "$bench/node_modules/webgpu" 2>/dev/null && pwd -P) || { echo "pack.sh: $bench/node_modules/webgpu is missing: run pnpm install" >&2; exit 1; }
[ -x "$esbuild" ] || { echo "pack.sh: $esbuild is missing: run pnpm install (esbuild is a devDependency of @attend/bench)" >&2; exit 1; }
command -v xz >/dev/null || { echo 'pack.sh: xz is missing (apt-get install xz-utils)' >&2; exit 1; }

if [ -z "${1:-}" ]; then
  exclude=$(git -C "$root" rev-parse --git-path info/exclude)
  grep -qxF '/.gpu-bench/' "$exclude" 2>/dev/null || echo '/.gpu-bench/' >>"$exclude"
fi

rm -rf "$dest"
mkdir -p "$dest/python" "$dest/node_modules/webgpu/dist/linux-x64" "$dest/debs"

echo "pack.sh: bundling apps/bench/src/main.ts -> $dest/gpu.mjs"
# The banner gives CommonJS dependencies bundled into ESM a `require` for Node's built-ins.
"$esbuild" "$bench/src/main.ts" --bundle --platform=node --format=esm --target=node20 \
  --conditions=@attend/source --external:webgpu --log-level=warning \
  --banner:js="import { createRequire as __attendCreateRequire } from 'node:module'; const require = __attendCreateRequire(import.meta.url);" \
  --outfile="$dest/gpu.mjs"

cp "$bench"/python/*.py "$dest/python/"
cp "$webgpu/index.js" "$webgpu/package.json" "$dest/node_modules/webgpu/"
xz -T1 -6 -c "$webgpu/dist/linux-x64/dawn.node" >"$dest/node_modules/webgpu/dist/linux-x64/dawn.node.xz"

echo "pack.sh: compressing $(command -v node) ($(node --version))"
xz -T1 -6 -c "$(command -v node)" >"$dest/node.xz"

# libvulkan1 for amd64, whatever this machine's architecture (the device README's recipe).
apt_o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64-lists)
mkdir -p /tmp/amd64-lists/partial
if ! (apt-get "${apt_o[@]}" update -qq && cd "$dest/debs" && apt-get "${apt_o[@]}" download -qq libvulkan1) >/dev/null 2>&1; then
  echo 'pack.sh: warning: could not download libvulkan1; run.sh then needs a Vulkan loader on the GPU machine' >&2
fi

{
  echo "packed $(date -u +%FT%TZ) from $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- apps packages || echo ' (+ uncommitted changes)')"
  echo "node $(node --version), webgpu $(node -p "require('$webgpu/package.json').version")"
  (cd "$dest" && find . -type f ! -name MANIFEST -printf '%P %s\n' | sort)
} >"$dest/MANIFEST"
cat "$dest/MANIFEST"
echo "pack.sh: $(du -sh "$dest" | cut -f1) in $dest"
