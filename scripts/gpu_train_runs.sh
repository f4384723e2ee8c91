#!/usr/bin/env bash
# Train demo-recipe runs on a lent GPU for a fixed wall time, side by side (a 32x32 model is
# far too small to fill the GPU: two runs on one card each go about as fast as one alone),
# and pack what comes back into $OUT (the device tool returns at most 8 files of 16 MiB).
# Used for issue 11 (classes that share a shape), in the same device call as gpu_checks.sh:
#
#     RUN_SECONDS=230 bash scripts/gpu_train_runs.sh \
#         resume:.carry/coherent:.carry/coherent-data  new:.carry/shapes2:.carry/shapes2-data
#
# Each argument is KIND:RUN:DATA. "resume" continues RUN (its config.json and latest
# checkpoint) on the images in DATA; "new" starts RUN from the config in RUN_CONFIG (default:
# the first resumed run's config.json, i.e. the same recipe) on DATA. Every run stops after
# RUN_SECONDS with Ctrl-C's orderly stop, which saves a checkpoint. Packed per run: config,
# dataset.json, metrics.csv, the log, snapshots/, every 1000th step's sample grid, the last
# checkpoint and those at multiples of KEEP_EVERY steps.
set -u
shopt -s nullglob
OUT=${OUT:-gpu-train-out}
PYTHON=${PYTHON:-python3}
RUN_SECONDS=${RUN_SECONDS:-230}
STEPS=${STEPS:-20000}
KEEP_EVERY=${KEEP_EVERY:-10000}
mkdir -p "$OUT"
# From a checkout that is not installed the engine's resources/ folder is not importable as
# the package sagan_studio_resources (pyproject maps it at install): a link makes it so.
shim=$(mktemp -d) && ln -s "$PWD/resources" "$shim/sagan_studio_resources"
export PYTHONUNBUFFERED=1 PYTHONPATH=$shim:$PWD:${PYTHONPATH:-}

pids=()
for spec in "$@"; do
    IFS=: read -r kind run data <<<"$spec"
    if [ "$kind" = resume ]; then
        RUN_CONFIG=${RUN_CONFIG:-$run/config.json}
        args=(--resume "$run")
    else
        mkdir -p "$(dirname "$run")"
        args=(--config "$RUN_CONFIG" --out "$run")
    fi
    timeout -s INT -k 60 "$RUN_SECONDS" "$PYTHON" -m sagan_engine train "${args[@]}" \
        --data "$data" --steps "$STEPS" --quiet >"$run.log" 2>&1 &
    pids+=($!)
done
wait "${pids[@]}"

for spec in "$@"; do
    IFS=: read -r _ run _ <<<"$spec"
    name=$(basename "$run")
    checkpoints=("$run"/checkpoints/step_*.safetensors)
    if [ ${#checkpoints[@]} -eq 0 ]; then  # it failed before its first checkpoint: the log says why
        echo "$run: no checkpoint"; tail -5 "$run.log"; continue
    fi
    cp "$run.log" "$run/train.log"
    latest=${checkpoints[-1]}
    files=(config.json dataset.json metrics.csv train.log snapshots "checkpoints/$(basename "$latest")")
    for ckpt in "${checkpoints[@]}"; do
        step=$((10#$(basename "$ckpt" .safetensors | cut -d_ -f2)))
        [ $((step % KEEP_EVERY)) -eq 0 ] && [ "$ckpt" != "$latest" ] && files+=("checkpoints/$(basename "$ckpt")")
    done
    for grid in "$run"/samples/step_*.png; do
        step=$((10#$(basename "$grid" .png | cut -d_ -f2)))
        [ $((step % 1000)) -eq 0 ] && files+=("samples/$(basename "$grid")")
    done
    tar -cf - -C "$run" "${files[@]}" | split -b 15M -d - "$OUT/$name.tar."
    tail -2 "$run.log"
done
ls -l "$OUT"
