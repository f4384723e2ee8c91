#!/usr/bin/env bash
# The checks a session lent a GPU runs (issue 14, item 4), prepared so that they fit one call
# of the device tool (10 minutes): the GPU tests, then `bench` on res64 and res128 at batch
# 64 (bf16, channels_last and the other options, torch.compile) and 256 (bf16, compile).
# Every figure lands in $OUT as it is made, so a run cut short still brings back what it did.
#
# On the device machine (its python3 holds a CUDA PyTorch; platformdirs is not there, so its
# wheel travels in .whl, see docs/benchmarks.md "Checks for a session lent a GPU"):
#     bash scripts/gpu_checks.sh            (run with carry [".whl"], timeout_s 570)
# PARTS="tests" or PARTS="bench" runs one part (the tests can run beside a training run,
# the timings cannot); BENCH_LIMITS gives each batch size's time limit in seconds.
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
    DEVICE=cpu; PRESETS=demo; SIZES="4 8"; PRECISION=fp32; EXTRA="--quick"
    TESTS="tests/engine/test_gpu.py"
else
    DEVICE=cuda; PRESETS=res64,res128; SIZES="64 256"; PRECISION=bf16
    EXTRA="--compile --min-seconds 5 --repeats 1"; TESTS="tests/engine -m gpu"
fi

PARTS=${PARTS:-tests bench}
read -r -a limits <<<"${BENCH_LIMITS:-200 200}"

if [[ " $PARTS " == *" tests "* ]]; then
    # shellcheck disable=SC2086  # TESTS and EXTRA are word lists
    timeout 150 "$PYTHON" -m pytest -q -p no:cacheprovider $TESTS 2>&1 | tee "$OUT/gpu_tests.txt"
fi
[[ " $PARTS " == *" bench "* ]] || exit 0

index=0
for batch in $SIZES; do
    limit=${limits[$index]:-200}; index=$((index + 1))
    options=""
    [ "$batch" != "${SIZES%% *}" ] && options="--no-options"  # the options table once
    # shellcheck disable=SC2086
    timeout "$limit" "$PYTHON" -m sagan_engine bench --device "$DEVICE" --presets "$PRESETS" \
        --batch-size "$batch" --precision "$PRECISION" --no-gui $options $EXTRA \
        --json "$OUT/bench_b$batch.json" 2>&1 | tee "$OUT/bench_b$batch.txt"
done
ls -l "$OUT"
