#!/usr/bin/env bash
# The checks a session lent a GPU runs (issue 14, item 4), prepared so that they fit one call
# of the device tool (10 minutes): the GPU tests, then `bench` (bf16) in three runs, the
# plain figures first so that a call cut short still brings the ones the issue's goals need:
#   1. res128 and res64 at batch 64, no options table, no compile   (the goals' figures)
#   2. res128 at batch 256, likewise
#   3. res64 at batch 64 with the options table (channels_last, precision) and --compile
# bench logs each run's img/s as it measures it; every log and JSON lands in $OUT.
#
# On the device machine (its python3 holds a CUDA PyTorch; platformdirs is not there, so its
# wheel travels in .whl, see docs/benchmarks.md "Checks for a session lent a GPU"):
#     bash scripts/gpu_checks.sh            (run with carry [".whl"], timeout_s 570)
# PARTS="tests" or PARTS="bench" runs one part (the tests can run beside a training run,
# the timings cannot); BENCH_LIMITS gives each bench run's time limit in seconds.
# Here, to check the script itself in seconds on the CPU:
#     GPU_CHECKS_SMOKE=1 OUT=/tmp/gpu-smoke PYTHON=.venv/bin/python bash scripts/gpu_checks.sh
set -u
OUT=${OUT:-gpu-checks-out}
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1

if ls .whl/*.whl >/dev/null 2>&1; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
# From a checkout that is not installed the engine's resources/ folder is not importable as
# the package sagan_studio_resources (pyproject maps it at install): a link makes it so.
shim=$(mktemp -d) && ln -s "$PWD/resources" "$shim/sagan_studio_resources"
export PYTHONPATH=$shim:$PWD:${PYTHONPATH:-}

{
    date -u
    nvidia-smi -L 2>&1 || echo "no nvidia-smi"
    "$PYTHON" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(),
          torch.cuda.get_device_name(0) if torch.cuda.is_available() else '')"
} 2>&1 | tee "$OUT/device.txt"

if [ -n "${GPU_CHECKS_SMOKE:-}" ]; then  # the plumbing only: CPU, tiny, seconds
    DEVICE=cpu; PRECISION=fp32; TESTS="tests/engine/test_gpu.py"
    RUNS=("plain_b4 demo 4 --quick" "plain_b8 demo 8 --quick" "options_b4 demo 4 --quick --options")
else
    DEVICE=cuda; PRECISION=bf16; TESTS="tests/engine -m gpu"
    RUNS=(
        "plain_b64 res128,res64 64 --min-seconds 3 --memory-steps 0"
        "plain_b256 res128 256 --min-seconds 3 --memory-steps 0"
        "options_b64 res64 64 --min-seconds 3 --memory-steps 0 --options --compile"
    )
fi

PARTS=${PARTS:-tests bench}
read -r -a limits <<<"${BENCH_LIMITS:-150 90 240}"

if [[ " $PARTS " == *" tests "* ]]; then
    # shellcheck disable=SC2086  # TESTS is a word list
    timeout 150 "$PYTHON" -m pytest -q -p no:cacheprovider $TESTS 2>&1 | tee "$OUT/gpu_tests.txt"
fi
[[ " $PARTS " == *" bench "* ]] || exit 0

index=0
for run in "${RUNS[@]}"; do
    read -r name presets batch extra <<<"$run"
    limit=${limits[$index]:-120}; index=$((index + 1))
    options="--no-options"
    [[ " $extra " == *" --options "* ]] && options="" && extra=${extra/--options/}
    # shellcheck disable=SC2086  # options and extra are word lists
    timeout "$limit" "$PYTHON" -m sagan_engine bench --device "$DEVICE" --presets "$presets" \
        --batch-size "$batch" --precision "$PRECISION" --no-gui --repeats 1 $options $extra \
        --json "$OUT/bench_$name.json" 2>&1 | tee "$OUT/bench_$name.txt"
done
ls -l "$OUT"
