#!/usr/bin/env bash
# The main job end to end: a prompt in, multi-view images, depth maps, a turntable video and a mesh out.
# Usage: bash examples/demo.sh [OUT_DIR]   (run `make setup` first; `make demo` does both)
set -euo pipefail
cd "$(dirname "$0")/.."
TG3DFACE="${TG3DFACE:-.venv/bin/tg3dface}"
OUT="${1:-outputs/demo}"

echo "NOTE: no trained model ships yet, so this demo uses a RANDOMLY INITIALISED 'tiny' network"
echo "      (--model random:tiny). The pipeline is real; the faces are noise until a trained bundle exists."

"$TG3DFACE" generate "a woman with red hair" \
    --model random:tiny --seeds 0-1 --views 5 \
    --video --mesh glb --mesh-res 96 --iso 0.8 \
    --out "$OUT" --overwrite

echo "outputs: $OUT (manifest: $OUT/manifest.json)"
ls "$OUT"/*/
