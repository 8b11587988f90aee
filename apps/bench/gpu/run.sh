#!/usr/bin/env bash
# apps/bench/gpu/run.sh — the GPU benchmark, on a machine with an NVIDIA GPU, no Node.js and no network,
# from the folder apps/bench/gpu/pack.sh built (default <repo>/.gpu-bench). In one run, each with its
# PyTorch CUDA baseline measured first by the same command (so the ratios come from one run):
#   1. bench rnn: char-LSTM LM training step, batch 256, 512 units (100 characters, embedding 64,
#      Adam) on tfjs webgpu (tf.layers, Attend composite, Attend default) vs PyTorch nn.LSTM (cuDNN);
#   2. bench transformer --model gpt: nanoGPT's GPU shape (shakespeare_char: 6 layers, d = 384,
#      6 heads, 256 tokens, batch 64; dropout 0 here) one training step with Adam on tfjs webgpu vs
#      PyTorch fp32 with scaled_dot_product_attention.
# Writes $OUT/bench-results/{rnn-lstm,transformer-gpt-L6-d384-h6-T256-B64-cuda}.json, $OUT/log.txt and
# $OUT/env.txt (GPU, driver, Vulkan). Exits non-zero if a benchmark failed.
#
# Knobs (environment), defaults for the GPU machine:
#   GPU_BENCH_DIR=<repo>/.gpu-bench  BACKEND=webgpu  TORCH_DEVICE=cuda  ATTEND_BENCH_PYTHON=python3
#   SMALL=0 (1: tiny shapes, one step: a smoke test)  BENCH_TIMEOUT=270 (seconds per benchmark)
#   SKIP_SETUP=0 (1: leave / alone: no dpkg -x, no ldconfig; for a check on a CPU machine)
# A check of this script on a CPU machine (cpu backend, torch on CPU, system untouched):
#   SKIP_SETUP=1 SMALL=1 BACKEND=cpu TORCH_DEVICE=cpu OUT=/tmp/gpu-smoke bash apps/bench/gpu/run.sh
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
pack=${GPU_BENCH_DIR:-$root/.gpu-bench}
out=${OUT:-$root/bench-results/gpu}
backend=${BACKEND:-webgpu}
device=${TORCH_DEVICE:-cuda}
export ATTEND_BENCH_PYTHON=${ATTEND_BENCH_PYTHON:-python3}
limit=${BENCH_TIMEOUT:-270}

[ -f "$pack/gpu.mjs" ] && [ -f "$pack/node.xz" ] || { echo "run.sh: $pack has no gpu.mjs/node.xz: run apps/bench/gpu/pack.sh here first and carry .gpu-bench" >&2; exit 1; }
mkdir -p "$out"
log=$out/log.txt
: >"$log"
say() { echo "$*" | tee -a "$log"; }

# --- Vulkan: the loader (libvulkan.so.1) from the packed .deb, the NVIDIA driver's ICD -------------
if [ "${SKIP_SETUP:-0}" != 1 ]; then
  if ! ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1 '; then
    for deb in "$pack"/debs/*.deb; do [ -f "$deb" ] && dpkg -x "$deb" /; done
    ldconfig
  fi
  icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  [ -z "${VK_DRIVER_FILES:-}" ] && [ -f "$icd" ] && export VK_DRIVER_FILES=$icd
  export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp}
fi

# --- Unpack Node, the bundle and Dawn into a scratch folder ---------------------------------------
rt=$(mktemp -d "${TMPDIR:-/tmp}/attend-gpu-bench.XXXXXX")
trap 'rm -rf "$rt"' EXIT
xz -dc "$pack/node.xz" >"$rt/node" && chmod +x "$rt/node"
cp -r "$pack/gpu.mjs" "$pack/python" "$pack/node_modules" "$rt/"
dawn=$rt/node_modules/webgpu/dist/linux-x64/dawn.node
[ -f "$dawn.xz" ] && xz -d "$dawn.xz"

{
  echo "date: $(date -u +%FT%TZ)"
  head -n 2 "$pack/MANIFEST" 2>/dev/null
  echo "node: $("$rt/node" --version)"
  echo "gpu: $(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo 'nvidia-smi: none')"
  echo "vulkan loader: $(ldconfig -p 2>/dev/null | grep -m1 'libvulkan\.so\.1 ' | sed 's/.*=> //' || true)"
  echo "VK_DRIVER_FILES: ${VK_DRIVER_FILES:-unset}"
  echo "python: $ATTEND_BENCH_PYTHON: $("$ATTEND_BENCH_PYTHON" -c 'import torch; print(torch.__version__, "cuda", torch.cuda.is_available())' 2>&1 | tail -n 1)"
  echo "backend: $backend, torch device: $device, small: ${SMALL:-0}"
} >"$out/env.txt"
tee -a "$log" <"$out/env.txt"

if [ "${SMALL:-0}" = 1 ]; then
  rnn=(--batch 4 --hidden 16 --seq-len 8 --steps 1 --warmup 0)
  gpt=(--layers 1 --d-model 32 --heads 2 --seq 16 --batch 2 --steps 1 --warmup 0)
else
  rnn=(--batch 256 --hidden 512)
  gpt=(--layers 6 --d-model 384 --heads 6 --seq 256 --batch 64)
fi

# main.ts writes bench-results/ under the working directory: $OUT/bench-results/*.json.
cd "$out" || exit 1
status=0
bench() {
  say ""
  say "\$ node gpu.mjs $*"
  timeout "$limit" "$rt/node" "$rt/gpu.mjs" "$@" 2>&1 | tee -a "$log"
  local rc=${PIPESTATUS[0]}
  [ "$rc" = 0 ] || { say "run.sh: node gpu.mjs $1 exited with $rc$([ "$rc" = 124 ] && echo " (over BENCH_TIMEOUT=${limit}s)")"; status=1; }
}
bench rnn --cell lstm "${rnn[@]}" --backends "$backend" --device "$device"
bench transformer --model gpt "${gpt[@]}" --backends "$backend" --device "$device"

# A backend or a baseline that does not load is only a "skipped:" line to the benches: here it is a failure.
for f in "$out"/bench-results/*.json; do
  [ -f "$f" ] || continue
  "$rt/node" -e '
    const [file, ...wanted] = process.argv.slice(1);
    const r = JSON.parse(require("node:fs").readFileSync(file, "utf8")).results;
    const missing = wanted.filter((b) => !r.rows.some((row) => row.backend === b));
    if (missing.length) {
      console.error(`run.sh: no ${missing.join(" or ")} row in ${file}; skipped: ${r.skipped.join("; ")}`);
      process.exit(1);
    }' "$f" "$backend" "$device" 2>&1 | tee -a "$log"
  [ "${PIPESTATUS[0]}" = 0 ] || status=1
done

say ""
say "run.sh: results in $out/bench-results: $(ls "$out/bench-results" 2>/dev/null | tr '\n' ' ')"
exit "$status"
