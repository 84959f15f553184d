#!/usr/bin/env bash
# A photo -> invert -> edit: reconstruct a 3D face from one photo by GAN inversion, then edit it with text.
#
# Usage: bash examples/photo_invert_edit.sh [PHOTO]
#   PHOTO: any photo with one clear face (detected, aligned and posed as `prepare` does); without it,
#   scikit-image's astronaut picture (Eileen Collins, public domain) is saved to OUT/astronaut.png.
# Knobs (environment variables):
#   OUT=outputs/examples/photo      where everything goes (inverted/, edited/)
#   MODEL=                          --model for invert (unset: the tool's default model)
#   STEPS=200 WPLUS_STEPS=200       optimisation steps in w, then in w+ (0: stay in w)
#   PTI=1 PTI_STEPS=100             pivotal tuning of the generator afterwards (0/1), and its steps
#   PROMPT="a photo of a face"      text condition of the inverted latent
#   EDIT="with blond hair"          the edit applied to the reconstruction (see prompts_generate_edit.sh)
#   MODE=recondition                edit mode: recondition or direction
#   VIEWS=0,-30,30                  a count, or YAW[:PITCH] degrees
#   VIDEO=1 MESH=glb ISO=           turntable video (0/1), mesh format (empty: none) and its --iso
#                                   (a random:PRESET model needs a low level, e.g. ISO=0.8)
#   DEVICE=auto
#   QUICK=1                         a smoke run in well under a minute (5 + 5 steps, 2 tuning steps, one view)
#   TG3DFACE=                       the tg3dface command (default: the repository's .venv, else PATH)
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
if [[ -z "${TG3DFACE:-}" && -x "$HERE/../.venv/bin/tg3dface" ]]; then
    TG3DFACE="$HERE/../.venv/bin/tg3dface"
fi
: "${TG3DFACE:=tg3dface}"

if [[ "${QUICK:-0}" == 1 ]]; then
    : "${OUT:=outputs/examples/photo-quick}" "${STEPS:=5}" "${WPLUS_STEPS:=5}" "${PTI_STEPS:=2}"
    : "${VIEWS:=0}" "${VIDEO:=0}" "${MESH:=}"
else
    : "${OUT:=outputs/examples/photo}" "${STEPS:=200}" "${WPLUS_STEPS:=200}" "${PTI_STEPS:=100}"
    : "${VIEWS:=0,-30,30}" "${VIDEO:=1}" "${MESH:=glb}"
fi
: "${MODEL:=}" "${PTI:=1}" "${PROMPT:=a photo of a face}" "${EDIT:=with blond hair}" "${MODE:=recondition}"
: "${ISO:=}" "${DEVICE:=auto}"

# json_get KEY.PATH < JSON: one value of a JSON object (list indices are numbers), printed as text.
json_get() {
    python3 -c 'import functools,json,sys; v=functools.reduce(lambda d,k: d[int(k)] if isinstance(d,list) else d[k], sys.argv[1].split("."), json.load(sys.stdin)); print(v if isinstance(v,str) else json.dumps(v))' "$1"
}

mkdir -p "$OUT"
PHOTO="${1:-}"
if [[ -z "$PHOTO" ]]; then
    # scikit-image is installed with tg3dface: use the Python next to the tg3dface command.
    python="$(dirname "$(command -v "$TG3DFACE")")/python"
    [[ -x "$python" ]] || python=python3
    PHOTO="$OUT/astronaut.png"
    "$python" -c 'import sys, skimage.data, PIL.Image
PIL.Image.fromarray(skimage.data.astronaut()).save(sys.argv[1])' "$PHOTO"
fi

outputs=(--views "$VIEWS" --device "$DEVICE")
[[ "$VIDEO" == 1 ]] && outputs+=(--video)
[[ -n "$MESH" ]] && outputs+=(--mesh "$MESH")
[[ -n "$ISO" ]] && outputs+=(--iso "$ISO")
model=()
[[ -n "$MODEL" ]] && model=(--model "$MODEL")
inversion=(--steps "$STEPS")
if [[ "$WPLUS_STEPS" -gt 0 ]]; then
    inversion+=(--space w+ --wplus-steps "$WPLUS_STEPS")
else
    inversion+=(--space w)
fi
[[ "$PTI" == 1 ]] && inversion+=(--pti --pti-steps "$PTI_STEPS")

# 1. Invert: detect, align and pose the face, fit a latent (and tune the generator with PTI).
echo "==> invert $PHOTO"
"$TG3DFACE" invert "$PHOTO" --prompt "$PROMPT" ${model[@]+"${model[@]}"} "${inversion[@]}" \
    "${outputs[@]}" --out "$OUT/inverted" --overwrite --json > "$OUT/invert.json"
INVERTED="$(json_get out < "$OUT/invert.json")/$(json_get items.0.dir < "$OUT/invert.json")"
echo "    $INVERTED: PSNR $(json_get psnr_input_view < "$OUT/invert.json") dB in the input view"

# 2. Edit the reconstruction: the latent names the (tuned) model it belongs to.
echo "==> edit: \"$EDIT\" ($MODE)"
"$TG3DFACE" edit "$INVERTED" "$EDIT" --mode "$MODE" "${outputs[@]}" \
    --out "$OUT/edited" --overwrite --json > "$OUT/edit.json"
EDITED="$(json_get out < "$OUT/edit.json")/$(json_get items.0.dir < "$OUT/edit.json")"
echo "    $EDITED: \"$(json_get items.0.prompt < "$OUT/edit.json")\""

echo
echo "outputs:"
echo "  photo          $PHOTO"
echo "  inverted       $INVERTED  (input.png, reconstruction.png, views/, depth/, latent.*)"
if [[ "$PTI" == 1 ]]; then
    echo "  tuned model    $(json_get out < "$OUT/invert.json")/tuned-model  (a model bundle)"
fi
echo "  edited         $EDITED"
