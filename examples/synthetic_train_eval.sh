#!/usr/bin/env bash
# Synthetic data -> train -> eval: build a synthetic text-face set, train the tiny preset on it, then score
# the last checkpoint (FID/KID, CLIP score, MVIC, view-warp consistency).
#
# Usage: bash examples/synthetic_train_eval.sh
# Knobs (environment variables; the defaults are a full CPU run of about an hour):
#   OUT=outputs/examples/train   where everything goes (data/, runs/, metrics.json)
#   DATA=                        an existing dataset folder to train on instead of preparing one
#   NUM=3000 RESOLUTION=64       synthetic images to render, and their side in pixels
#   HOLDOUT=hair_color=blue,green   attribute values kept out of training (scored as out-of-domain)
#   PRESET=tiny STEPS=4000       model preset and training steps
#   BATCH=                       global batch (default: the preset's, 8 for tiny)
#   SAMPLE_EVERY=250             steps between sample grids in RUN/samples/
#   EVAL_SAMPLES=1000 METRICS=   generated samples for eval, and its --metrics list (default: all but attr)
#   DEVICE=auto SEED=0           --device and --seed of every step
#   QUICK=1                      a smoke run in well under a minute (48 images, 4 steps, 8 eval samples)
#   TG3DFACE=                    the tg3dface command (default: the repository's .venv, else PATH)
# Re-running continues the same run (train --resume auto) and reuses a data folder that already exists;
# delete OUT to start over.
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
if [[ -z "${TG3DFACE:-}" && -x "$HERE/../.venv/bin/tg3dface" ]]; then
    TG3DFACE="$HERE/../.venv/bin/tg3dface"
fi
: "${TG3DFACE:=tg3dface}"

if [[ "${QUICK:-0}" == 1 ]]; then
    : "${OUT:=outputs/examples/train-quick}" "${NUM:=48}" "${STEPS:=4}" "${BATCH:=4}" "${EVAL_SAMPLES:=8}"
    : "${SAMPLE_EVERY:=4}"
else
    : "${OUT:=outputs/examples/train}" "${NUM:=3000}" "${STEPS:=4000}" "${BATCH:=}" "${EVAL_SAMPLES:=1000}"
    : "${SAMPLE_EVERY:=250}"
fi
: "${RESOLUTION:=64}" "${HOLDOUT:=hair_color=blue,green}" "${PRESET:=tiny}" "${METRICS:=}"
: "${DEVICE:=auto}" "${SEED:=0}" "${DATA:=}"

# json_get KEY.PATH < JSON: one value of a JSON object (list indices are numbers), printed as text.
json_get() {
    python3 -c 'import functools,json,sys; v=functools.reduce(lambda d,k: d[int(k)] if isinstance(d,list) else d[k], sys.argv[1].split("."), json.load(sys.stdin)); print(v if isinstance(v,str) else json.dumps(v))' "$1"
}

mkdir -p "$OUT"

# 1. Data: a synthetic set with exact captions, parsing, cameras and depth (skipped when DATA is given).
if [[ -z "$DATA" ]]; then
    DATA="$OUT/data"
    if [[ -f "$DATA/manifest.json" ]]; then
        echo "==> reusing the data set in $DATA"
    else
        echo "==> prepare synthetic: $NUM images at $RESOLUTION px -> $DATA"
        holdout=()
        [[ -n "$HOLDOUT" ]] && holdout=(--holdout "$HOLDOUT")
        "$TG3DFACE" prepare synthetic --out "$DATA" --num "$NUM" --resolution "$RESOLUTION" \
            --seed "$SEED" ${holdout[@]+"${holdout[@]}"} --device "$DEVICE" --json > "$OUT/prepare.json"
        echo "    split counts: $(json_get counts < "$OUT/prepare.json")"
    fi
fi

# 2. Train: a run folder with checkpoints; --resume auto continues the run when it exists already.
echo "==> train --preset $PRESET for $STEPS steps on $DATA"
batch=()
[[ -n "$BATCH" ]] && batch=(--batch "$BATCH" --batch-gpu "$BATCH")
"$TG3DFACE" train --data "$DATA" --out "$OUT/runs" --preset "$PRESET" --max-steps "$STEPS" \
    ${batch[@]+"${batch[@]}"} --set train.sample_every="$SAMPLE_EVERY" --seed "$SEED" --device "$DEVICE" \
    --resume auto --json > "$OUT/train.json"
RUN="$(json_get run < "$OUT/train.json")"
CHECKPOINT="$(json_get checkpoint < "$OUT/train.json")"
echo "    run $RUN, step $(json_get step < "$OUT/train.json"), last checkpoint $CHECKPOINT"

# 3. Eval the last checkpoint (a model bundle); its metrics also go to RUN/metrics.jsonl.
echo "==> eval $CHECKPOINT on $EVAL_SAMPLES samples"
metrics=()
[[ -n "$METRICS" ]] && metrics=(--metrics "$METRICS")
eval_json="$("$TG3DFACE" eval --model "$CHECKPOINT" --data "$DATA" --num-samples "$EVAL_SAMPLES" \
    ${metrics[@]+"${metrics[@]}"} --seed "$SEED" --device "$DEVICE" --out "$OUT/metrics.json" --json)"
results="$(printf '%s' "$eval_json" | json_get results)"
for key in fid.value kid.mean clip.score mvic.mean warp.psnr; do
    value="$(printf '%s' "$results" | json_get "$key" 2>/dev/null)" || continue
    echo "    $key = $value"
done

echo
echo "outputs:"
echo "  data set      $DATA"
echo "  run folder    $RUN  (train_log.jsonl, samples/, checkpoints/)"
echo "  model bundle  $CHECKPOINT  (use it with --model)"
echo "  metrics       $OUT/metrics.json"
