#!/usr/bin/env bash
# The release's translation at its real size on an NVIDIA GPU: Wan2.2-TI2V-5B, three2one, 704x1280,
# 49 frames, 50 UniPC steps, guidance 5, bfloat16; seconds per stage, peak GPU memory and MFU.
# NOT RUN ON A GPU YET (no GPU was lent to the session that wrote it): each step is what the
# project's docs say works; expect to fix what a first run finds.
#
#   bash scripts/gpu-real-size.sh [MODEL]     MODEL: a Wan2.2-TI2V-5B-Diffusers folder or Hub id in the
#                                             Hugging Face cache; default: a random-weight folder at the
#                                             real sizes, written here first (~26 GB, no network needed)
# Variables: NODE (default: node on PATH; Node.js >= 20), PYTHON (python3 with a CUDA build of
# PyTorch >= 2.0: its torch/ folder is the libtorch the addon builds against), OUT (outputs/gpu),
# OFFLOAD (none; model|blocks for smaller GPUs), WEIGHTS (set to fp8 for --weights-dtype fp8),
# STEPS (50), PEAK_TFLOPS (989: H100/H200 SXM dense bf16; 756 for H100 PCIe).
# Needs this checkout with its node_modules (npm ci) and ffmpeg; no network (the model must be
# local or in the Hugging Face cache).
set -euo pipefail
cd "$(dirname "$0")/.."
node=${NODE:-node}
python=${PYTHON:-python3}
out=${OUT:-outputs/gpu}
steps=${STEPS:-50}
mkdir -p "$out"
say() { printf '[gpu-real-size] %s\n' "$*" >&2; }
# GNU time's -v gives the peak host memory too, where it is installed
timed() { if [ -x /usr/bin/time ]; then /usr/bin/time -v "$@"; else "$@"; fi; }
export PATH="$(dirname "$(command -v "$node")"):$PATH"

# 1. The GPU and the libtorch of the pip install of PyTorch.
"$python" -c 'import torch; assert torch.cuda.is_available(), "PyTorch sees no CUDA device"; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name(0))'
LIBTORCH=$("$python" -c 'import os, torch; print(os.path.dirname(torch.__file__))')
export LIBTORCH
export LD_LIBRARY_PATH="$LIBTORCH/lib:${LD_LIBRARY_PATH:-}"

# 2. The addon against it (setup.sh installs no system package when LIBTORCH is set, only checks ffmpeg).
say "building the addon against $LIBTORCH"
bash scripts/setup.sh
"$node" bin/worldwander.js doctor | tee "$out/doctor.txt"
grep -q '^cuda *yes' "$out/doctor.txt" || { say "the addon sees no CUDA device (doctor above)"; exit 1; }

# 3. The model.
model=${1:-}
if [ -z "$model" ]; then
  model="$out/real-size"
  if [ ! -f "$model/model_index.json" ]; then
    say "writing a random-weight folder at the real sizes into $model (~26 GB)"
    "$node" dist/scripts/make-real-size-model.js "$model"
  fi
fi

# 4. An input clip at the release's size and rate (7 s at 8 fps: the 49 frames fit).
clip="$out/clip.mp4"
[ -f "$clip" ] || ffmpeg -v error -f lavfi -i testsrc2=size=1280x704:rate=8 -t 7 -pix_fmt yuv420p "$clip"

# 5. The prompt embeddings first (umT5-XXL alone on the GPU, then released).
say "encoding the prompts"
timed "$node" bin/worldwander.js encode-prompts --model-dir "$model" --dtype bfloat16 --device cuda \
  2> "$out/encode-prompts.log" || { cat "$out/encode-prompts.log" >&2; exit 1; }

# 6. The translation, GPU memory sampled every 200 ms.
nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 > "$out/gpu-memory.csv" &
smi=$!
trap 'kill $smi 2>/dev/null || true' EXIT
say "translating at 704x1280x49, $steps steps (offload ${OFFLOAD:-none}${WEIGHTS:+, weights $WEIGHTS})"
timed "$node" bin/worldwander.js infer --config configs/wan2-2_lora_three2one_synthetic.yaml \
  --model-dir "$model" --input "$clip" --output "$out/run" --overwrite --device cuda --dtype bfloat16 \
  --steps "$steps" --offload "${OFFLOAD:-none}" ${WEIGHTS:+--weights-dtype "$WEIGHTS"} 2> >(tee "$out/infer.log" >&2)
kill $smi 2>/dev/null || true

# 7. The report: seconds per stage (run.json), peak GPU memory, MFU against the FLOP budget.
case_dir=$(find "$out/run" -mindepth 1 -maxdepth 1 -type d | head -1)
"$node" dist/bench/release_flops.js --run "$case_dir" --gpu-memory "$out/gpu-memory.csv" \
  --steps "$steps" --peak-tflops "${PEAK_TFLOPS:-989}" | tee "$out/report.json"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv >> "$out/report.json"
say "done: $out/report.json (with $out/infer.log, $out/encode-prompts.log, $out/doctor.txt)"
