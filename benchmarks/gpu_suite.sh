#!/usr/bin/env bash
# Every GPU figure of issue 16 in one run of at most 8 minutes: one JSON + one Markdown table.
#
#   bash benchmarks/gpu_suite.sh [--out DIR] [--with-model]     # on a machine with CUDA
#   bash benchmarks/gpu_suite.sh --device cpu --quick           # dry run: every step, tiny sizes, on CPU
#
# Steps (each a benchmarks/ script with --json, each under its own timeout; a step that fails or
# times out is recorded as such and the next one runs):
#   logmel_torch    torch log-mel, 1 clip and a batch, vs numpy          (bench_logmel_torch.py)
#   cwt_torch       Morse CWT scalogram, plain and multirate, batched    (bench_cwt.py --skip-numpy)
#   vggish          VGGish front end + network under bf16 autocast       (bench_vggish.py)
#   all_features    logmel + scalogram + VGGish (bf16) end to end (extract_dataset, one worker per core),
#                   each alone, the plain librosa loop, peak RSS of a 10-minute song (bench_all_features.py)
#   training        training from the store vs in-memory tensors         (bench_training.py)
#   remix           stem store extraction, remix training vs plain       (bench_stems.py)
#   model           --with-model only: the shipped model's recipe (what `make model` runs) on the
#                   device, into DIR/model (models/ is left alone); not counted in the 8 minutes.
# Writes DIR/gpu_suite.json and DIR/gpu_suite.md (DIR: --out, else $OUT, else build/gpu-suite) and
# prints the table. Without CUDA (and without --device cpu) it prints one line and exits 0.
set -u -o pipefail
cd "$(dirname "$0")/.."

OUTDIR="${OUT:-build/gpu-suite}"
DEVICE=cuda
QUICK=0
WITH_MODEL=0
BUDGET_S="${GPU_SUITE_BUDGET_S:-480}"          # the 8 minutes, all steps but the model together
MODEL_TIMEOUT_S="${GPU_SUITE_MODEL_TIMEOUT_S:-1800}"
while [ $# -gt 0 ]; do
    case "$1" in
        --out) OUTDIR="$2"; shift 2 ;;
        --device) DEVICE="$2"; shift 2 ;;
        --quick) QUICK=1; shift ;;
        --with-model) WITH_MODEL=1; shift ;;
        -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "gpu_suite: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$DEVICE" in cpu|cuda) ;; *) echo "gpu_suite: --device must be cpu or cuda, got $DEVICE" >&2; exit 2 ;; esac

PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
    if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

if [ "$DEVICE" = cuda ]; then
    "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 3)' 2>/dev/null
    case $? in
        0) ;;
        3) echo "gpu_suite: no CUDA device (torch.cuda.is_available() is False); skipping the GPU benchmarks"
           exit 0 ;;
        *) echo "gpu_suite: $PYTHON cannot import torch; install the project first (make setup)" >&2
           exit 1 ;;
    esac
fi

mkdir -p "$OUTDIR/steps" "$OUTDIR/work"
rm -f "$OUTDIR"/steps/*
STARTED=$(date +%s)
CORES=$(nproc)

# run_step NAME TIMEOUT_S COMMAND...: run COMMAND under the timeout (shortened to what is left of the
# budget), its output in DIR/steps/NAME.log, its exit status and time in NAME.status.
run_step() {
    local name="$1" limit="$2"; shift 2
    local left=$(( BUDGET_S - ($(date +%s) - STARTED) - 5 ))
    if [ "$name" != model ] && [ "$left" -lt "$limit" ]; then limit=$left; fi
    if [ "$limit" -lt 10 ]; then
        printf '{"rc": null, "seconds": 0, "timeout_s": 0, "skipped": "the 8-minute budget is spent"}\n' \
            > "$OUTDIR/steps/$name.status"
        echo "gpu_suite: $name skipped (budget spent)"
        return
    fi
    echo "gpu_suite: $name (timeout ${limit} s)"
    local t0 rc ms
    t0=$(date +%s%N)
    timeout -k 5 "$limit" "$@" > "$OUTDIR/steps/$name.log" 2>&1
    rc=$?
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    printf '{"rc": %d, "seconds": %d.%03d, "timeout_s": %d, "command": "%s"}\n' "$rc" $((ms / 1000)) $((ms % 1000)) \
        "$limit" "$(echo "$*" | sed 's/\\/\\\\/g; s/"/\\"/g')" > "$OUTDIR/steps/$name.status"
}

# step NAME TIMEOUT_S COMMAND...: run_step with --json DIR/steps/NAME.json (each benchmark's figures).
step() {
    local name="$1"
    run_step "$@" --json "$OUTDIR/steps/$name.json"
}

bench() { echo "$PYTHON" "benchmarks/$1"; }

if [ "$QUICK" = 1 ]; then
    step logmel_torch 60 $(bench bench_logmel_torch.py) --device "$DEVICE" --batch 2 --clip-seconds 1 --repeats 1
    step cwt_torch 60 $(bench bench_cwt.py) --skip-numpy --device "$DEVICE" --batch 2 --clip-seconds 1 --repeats 1 \
        --blocks-per-batch 4 --methods multirate
    step vggish 60 $(bench bench_vggish.py) --device "$DEVICE" --seconds 2 --batch 4 --repeats 1
    step all_features 90 $(bench bench_all_features.py) --songs 2 --seconds 2 --workers 1 --no-per-feature \
        --no-memory --baseline --work "$OUTDIR/work"
    step training 90 $(bench bench_training.py) --device "$DEVICE" --steps 1 --rounds 1 --tracks 4 --batch-size 2 \
        --window 100 --workers 0
    step remix 120 $(bench bench_stems.py) --device "$DEVICE" --songs 2 --seconds 3 --rounds 1 --steps 1
    # the recipe cut down to an entry-point check: 4 + 4 songs of 3 s, one epoch of 2 steps
    "$PYTHON" -c 'import json, sys; r = json.load(open(sys.argv[1])); r.update(songs=4, held_out_songs=4,
seconds=3.0, held_out_seconds=3.0, workers=1); r["training"].update(epochs=1, steps_per_epoch=2)
json.dump(r, open(sys.argv[2], "w"))' models/recipes/gm-families.json "$OUTDIR/work/recipe.json"
    RECIPE="$OUTDIR/work/recipe.json"
else
    step logmel_torch 40 $(bench bench_logmel_torch.py) --device "$DEVICE" --batch 256 --clip-seconds 30
    step cwt_torch 60 $(bench bench_cwt.py) --skip-numpy --device "$DEVICE" --batch 256 --clip-seconds 10 \
        --blocks-per-batch 256 --repeats 2
    step vggish 60 $(bench bench_vggish.py) --device "$DEVICE" --seconds 3600 --batch 1024
    step all_features 130 $(bench bench_all_features.py) --songs 16 --seconds 30 --workers "$CORES" --baseline \
        --vggish vggish:precision=bfloat16 --work "$OUTDIR/work"
    step training 60 $(bench bench_training.py) --device "$DEVICE" --steps 50
    step remix 80 $(bench bench_stems.py) --device "$DEVICE" --songs 16 --seconds 10 --rounds 1 --steps 30 \
        --workers "$CORES"
    RECIPE=models/recipes/gm-families.json
fi
if [ "$WITH_MODEL" = 1 ]; then
    # what `make model` runs, on the device, exported into DIR/model/export (models/ stays as it is);
    # its figure is the wall time (the reports are in DIR/model)
    run_step model "$MODEL_TIMEOUT_S" "$PYTHON" -m instrec recipe --config "$RECIPE" --out "$OUTDIR/model" \
        --device "$DEVICE" --workers "$CORES" --export "$OUTDIR/model/export" --name gm-families
fi

"$PYTHON" benchmarks/gpu_suite_report.py "$OUTDIR" --device "$DEVICE" --quick "$QUICK" \
    --elapsed "$(( $(date +%s) - STARTED ))"
