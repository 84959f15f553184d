#!/usr/bin/env bash
# The main job end to end: a prompt in, multi-view images, depth maps, a turntable video and a mesh out.
# Usage: bash examples/demo.sh [OUT_DIR]   (run `make setup` first; `make demo` does both)
set -euo pipefail
cd "$(dirname "$0")/.."
TG3DFACE="${TG3DFACE:-.venv/bin/tg3dface}"
OUT="${1:-outputs/demo}"

# No --model: the shipped synthetic-world demo model (builtin:demo), trained on this repository's
# procedural heads only (pipelines/assets/demo_model/README.md).
"$TG3DFACE" generate "a woman with red hair" \
    --seeds 0-1 --views 5 \
    --video --mesh glb --mesh-res 128 \
    --out "$OUT" --overwrite

echo "outputs: $OUT (manifest: $OUT/manifest.json)"
ls "$OUT"/*/
