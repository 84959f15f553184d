#!/usr/bin/env bash
# A prompts file -> generate -> edit: generate every prompt with every seed, then apply one text edit to
# every generated sample bundle.
#
# Usage: bash examples/prompts_generate_edit.sh [PROMPTS_FILE]
#   PROMPTS_FILE: one prompt per line (.txt) or {"prompt": ...} per line (.jsonl); without it a small
#   file of prompts the synthetic-world models understand is written to OUT/prompts.txt.
# Knobs (environment variables):
#   OUT=outputs/examples/prompts     where everything goes (generated/, edited/)
#   MODEL=                           --model for generate (unset: the tool's default model)
#   SEEDS=0-3                        seeds of every prompt (a range list, e.g. 0-3,7)
#   EDIT="with blond hair"           the edit: text starting with with/without/wearing/... replaces the
#                                    prompt's phrase about the same part (or is appended); any other
#                                    text is a whole new prompt
#   MODE=recondition                 edit mode: recondition or direction
#   VIEWS=0,-30,30                   a count, or YAW[:PITCH] degrees
#   VIDEO=1 MESH=glb ISO=            turntable video (0/1), mesh format (empty: none) and its --iso
#                                    (a random:PRESET model needs a low level, e.g. ISO=0.8)
#   GUIDANCE=0                       directional CLIP guidance steps of generate
#   DEVICE=auto
#   QUICK=1                          a smoke run in well under a minute (seed 0, one view, no video or mesh)
#   TG3DFACE=                        the tg3dface command (default: the repository's .venv, else PATH)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
if [[ -z "${TG3DFACE:-}" && -x "$HERE/../.venv/bin/tg3dface" ]]; then
    TG3DFACE="$HERE/../.venv/bin/tg3dface"
fi
: "${TG3DFACE:=tg3dface}"

if [[ "${QUICK:-0}" == 1 ]]; then
    : "${OUT:=outputs/examples/prompts-quick}" "${SEEDS:=0}" "${VIEWS:=0}" "${VIDEO:=0}" "${MESH:=}"
else
    : "${OUT:=outputs/examples/prompts}" "${SEEDS:=0-3}" "${VIEWS:=0,-30,30}" "${VIDEO:=1}" "${MESH:=glb}"
fi
: "${MODEL:=}" "${EDIT:=with blond hair}" "${MODE:=recondition}" "${ISO:=}" "${GUIDANCE:=0}" "${DEVICE:=auto}"

# json_get KEY.PATH < JSON: one value of a JSON object (list indices are numbers), printed as text.
json_get() {
    python3 -c 'import functools,json,sys; v=functools.reduce(lambda d,k: d[int(k)] if isinstance(d,list) else d[k], sys.argv[1].split("."), json.load(sys.stdin)); print(v if isinstance(v,str) else json.dumps(v))' "$1"
}
# item_dirs < JSON: the sample folder of every item of a generate/edit/invert result, one per line.
item_dirs() {
    python3 -c 'import json,sys; print("\n".join(item["dir"] for item in json.load(sys.stdin)["items"]))'
}

mkdir -p "$OUT"
PROMPTS="${1:-}"
if [[ -z "$PROMPTS" ]]; then
    PROMPTS="$OUT/prompts.txt"
    cat > "$PROMPTS" <<'EOF'
A young woman with long wavy red hair and fair skin.
An old man with short gray hair and a beard.
A middle-aged woman with shoulder-length black hair and brown skin.
EOF
fi

# Options every sample-writing verb shares.
outputs=(--views "$VIEWS" --device "$DEVICE")
[[ "$VIDEO" == 1 ]] && outputs+=(--video)
[[ -n "$MESH" ]] && outputs+=(--mesh "$MESH")
[[ -n "$ISO" ]] && outputs+=(--iso "$ISO")
model=()
[[ -n "$MODEL" ]] && model=(--model "$MODEL")

# 1. Generate: every prompt x every seed, one sample bundle each under OUT/generated/.
echo "==> generate every prompt of $PROMPTS with seeds $SEEDS"
"$TG3DFACE" generate --prompts-file "$PROMPTS" --seeds "$SEEDS" --guidance "$GUIDANCE" \
    ${model[@]+"${model[@]}"} "${outputs[@]}" --out "$OUT/generated" --overwrite --json > "$OUT/generate.json"
GENERATED="$(json_get out < "$OUT/generate.json")"
count="$(item_dirs < "$OUT/generate.json" | wc -l | tr -d ' ')"
echo "    $count sample(s) in $GENERATED, model $(json_get model < "$OUT/generate.json")"

# 2. Edit: given the set folder, edit reads every sample of its manifest, with the model, latent and
#    camera each one recorded, and writes a new set of the same shape under OUT/edited/.
echo "==> edit every sample: \"$EDIT\" ($MODE)"
"$TG3DFACE" edit "$GENERATED" "$EDIT" --mode "$MODE" "${outputs[@]}" \
    --out "$OUT/edited" --overwrite --json > "$OUT/edit.json"
EDITED="$(json_get out < "$OUT/edit.json")"
count="$(item_dirs < "$OUT/edit.json" | wc -l | tr -d ' ')"
for ((i = 0; i < count; i++)); do
    dir="$(json_get "items.$i.dir" < "$OUT/edit.json")"
    echo "    $dir: \"$(json_get "items.$i.prompt" < "$OUT/edit.json")\""
done

echo
echo "outputs:"
echo "  prompts    $PROMPTS"
echo "  generated  $GENERATED  (manifest.json, <prompt-slug>-seed<S>/: views/, depth/, latent.*)"
echo "  edited     $EDITED  ($count sample(s), the same layout)"
