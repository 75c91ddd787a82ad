#!/usr/bin/env bash
# The prepared GPU check (issue 12): parity, tracking speed, training speed and memory of ours
# against the official PyTorch code on the same GPU, in one run, written as a Markdown table
# (gpu-check.md) and JSON (gpu-check.json) under --out.
#
#   scripts/gpu-check.sh [--out DIR]       # on a device machine, from the repository root, with
#                                          # the bundle `scripts/gpu-bundle.sh` made here
#   scripts/gpu-check.sh --dry-run [--out DIR]
#                                          # the same steps on Flex with tiny sizes (CI runs it)
#
# Inputs (environment; defaults in brackets):
#   OSTRACK_BIN       the `ostrack` binary [gpu-bundle/ostrack, unpacked from gpu-bundle/ostrack.xz;
#                     dry run: $CARGO_TARGET_DIR/release/ostrack]
#   OSTRACK_FIXTURES  model parity fixtures [gpu-bundle/fixtures; dry run: ../shared/fixtures]
#   OSTRACK_OFFICIAL  a checkout of botaoye/OSTrack for the PyTorch side [gpu-bundle/OSTrack];
#                     missing, or Python without torch: the PyTorch rows say "skipped" and why
#   GPU_CHECK_BACKENDS  backends to measure ["cuda vulkan"; dry run: "flex"]
# Every step has its own time limit and records its outcome; one failing step does not stop the
# others. Exit status: 0 when every parity check passed and every measurement ran, 1 otherwise.
set -uo pipefail
cd "$(dirname "$0")/.."

dry=0
out=gpu-check-out
while [[ $# -gt 0 ]]; do
    case "$1" in
        --dry-run) dry=1 ;;
        --out) out="${2:?--out needs a folder}"; shift ;;
        *) echo "usage: $0 [--dry-run] [--out DIR]" >&2; exit 2 ;;
    esac
    shift
done
mkdir -p "$out"
out="$(cd "$out" && pwd)"
results="$out/results.jsonl"
: > "$results"
log="$out/gpu-check.log"
: > "$log"

if [[ $dry == 1 ]]; then
    backends=(${GPU_CHECK_BACKENDS:-flex})
    configs=(configs/demo.yaml)
    train_config=configs/demo.yaml
    train_batch=2 train_steps=2 runs=2 warmup=1 big_batch=2 torch_device=cpu step_limit=300
    bin="${OSTRACK_BIN:-${CARGO_TARGET_DIR:-target}/release/ostrack}"
    fixtures="${OSTRACK_FIXTURES:-../shared/fixtures}"
else
    backends=(${GPU_CHECK_BACKENDS:-cuda vulkan})
    configs=(configs/vitb_256_mae_ce_32x4_ep300.yaml configs/vitb_384_mae_ce_32x4_ep300.yaml)
    train_config=configs/vitb_256_mae_ce_32x4_ep300.yaml
    train_batch=32 train_steps=30 runs=20 warmup=3 big_batch=16 torch_device=cuda step_limit=150
    bin="${OSTRACK_BIN:-gpu-bundle/ostrack}"
    if [[ ! -x "$bin" && -f gpu-bundle/ostrack.xz ]]; then
        bin=/tmp/ostrack-gpu-check
        xz -dc gpu-bundle/ostrack.xz > "$bin" && chmod +x "$bin"
    fi
    fixtures="${OSTRACK_FIXTURES:-gpu-bundle/fixtures}"
fi
official="${OSTRACK_OFFICIAL:-gpu-bundle/OSTrack}"
[[ -x "$bin" ]] || { echo "gpu-check: no ostrack binary at $bin" >&2; exit 1; }

say() { echo "gpu-check: $*" | tee -a "$log" >&2; }

# record STEP JSON-LINE-OR-EMPTY RC: one line of results.jsonl.
record() {
    python3 - "$1" "$2" "$3" >> "$results" <<'PY'
import json, sys
step, payload, rc = sys.argv[1], sys.argv[2], int(sys.argv[3])
try:
    value = json.loads(payload.strip().splitlines()[-1]) if payload.strip() else None
except (ValueError, IndexError):
    value = None
print(json.dumps({"step": json.loads(step), "rc": rc, "result": value,
                  "tail": None if value is not None else payload[-600:]}))
PY
}

# Peak GPU memory (MiB) of a process tree while it runs, from nvidia-smi; empty without one.
gpu_peak_of() {
    local pid=$1 peak=0 used
    command -v nvidia-smi >/dev/null || return 0
    while kill -0 "$pid" 2>/dev/null; do
        used=$(nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits 2>/dev/null | head -1)
        [[ "$used" =~ ^[0-9]+$ ]] && (( used > peak )) && peak=$used
        sleep 0.2
    done
    echo "$peak"
}

# run STEP-JSON CMD...: runs a measured command under the step limit, records its last JSON line.
# Past the check's time budget (GPU_CHECK_BUDGET seconds, 450 by default: the whole check must
# fit one 10-minute device command with room to spare) a step is recorded as skipped instead.
run() {
    local step=$1; shift
    if (( $(date +%s) - start > ${GPU_CHECK_BUDGET:-450} )); then
        say "$step skipped: past the time budget"
        record "$step" '{"skipped": "past the check'"'"'s time budget (GPU_CHECK_BUDGET)"}' 0
        return
    fi
    say "$step"
    local tmp rc peak
    tmp=$(mktemp)
    timeout "$step_limit" "$@" > "$tmp" 2>> "$log" &
    local pid=$!
    peak=$(gpu_peak_of "$pid")
    wait "$pid"; rc=$?
    if [[ -n "$peak" ]]; then
        step=$(python3 -c 'import json,sys; s=json.loads(sys.argv[1]); s["gpu_used_peak_mib"]=int(sys.argv[2]); print(json.dumps(s))' "$step" "$peak")
    fi
    record "$step" "$(cat "$tmp")" "$rc"
    [[ $rc == 0 ]] || say "  exit $rc (see $log)"
    cat "$tmp" >> "$log"
    rm -f "$tmp"
}

start=$(date +%s)
say "binary $bin, fixtures $fixtures, backends ${backends[*]}, dry run $dry"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee -a "$log"

# 1. Parity: every model fixture (a fixture without weights uses the checkpoint it names).
for backend in "${backends[@]}"; do
    for fixture in "$fixtures"/model_*.safetensors "$fixtures"/*.expected.safetensors; do
        [[ -f "$fixture" ]] || continue
        name=$(basename "$fixture" .safetensors)
        args=(--backend "$backend" parity "$fixture" --json)
        weights="$fixtures/${name%.expected}.pth.tar"
        [[ "$name" == *.expected && -f "$weights" ]] && args+=(--weights "$weights")
        run "{\"kind\":\"parity\",\"backend\":\"$backend\",\"fixture\":\"$name\"}" "$bin" "${args[@]}"
    done
done

# 2. Tracking speed: model-only batch 1 with the end-to-end step, and model-only at a big batch.
for backend in "${backends[@]}"; do
    for config in "${configs[@]}"; do
        name=$(basename "$config" .yaml)
        run "{\"kind\":\"track\",\"backend\":\"$backend\",\"config\":\"$name\",\"batch\":1}" \
            "$bin" --backend "$backend" profile --config "$config" --runs "$runs" --warmup "$warmup" --batch 1 --json
        run "{\"kind\":\"track\",\"backend\":\"$backend\",\"config\":\"$name\",\"batch\":$big_batch}" \
            "$bin" --backend "$backend" profile --config "$config" --runs "$runs" --warmup "$warmup" --batch "$big_batch" --model-only --json
    done
done

# 3. Training speed and memory: the real config's steps on synthetic batches.
for backend in "${backends[@]}"; do
    name=$(basename "$train_config" .yaml)
    run "{\"kind\":\"train\",\"backend\":\"$backend\",\"config\":\"$name\",\"batch\":$train_batch}" \
        "$bin" --backend "$backend" profile --train --config "$train_config" --runs "$train_steps" --warmup "$warmup" --batch "$train_batch" --json
done

# 4. The official PyTorch code on the same device, same sizes.
for wheel in gpu-bundle/wheels/*.whl; do
    [[ -f "$wheel" ]] && export PYTHONPATH="$PWD/$wheel${PYTHONPATH:+:$PYTHONPATH}"
done
torch_skip=""
if [[ ! -d "$official/lib/models/ostrack" ]]; then
    torch_skip="no botaoye/OSTrack checkout at $official"
elif ! python3 -c 'import torch, timm' 2>/dev/null; then
    torch_skip="python3 cannot import torch and timm: $(python3 -c 'import torch, timm' 2>&1 | tail -1)"
fi
for config in "${configs[@]}"; do
    name=$(basename "$config" .yaml)
    step="{\"kind\":\"pytorch\",\"backend\":\"torch-$torch_device\",\"config\":\"$name\"}"
    if [[ -n "$torch_skip" ]]; then
        say "pytorch $name skipped: $torch_skip"
        record "$step" "{\"skipped\": $(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$torch_skip")}" 0
        continue
    fi
    official_name=$name
    [[ $dry == 1 ]] && official_name=vitb_256_mae_ce_32x4_ep300
    tb=$train_batch
    [[ "$config" != "$train_config" && $dry == 0 ]] && tb=0
    run "$step" python3 benches/pytorch/gpu.py --repo "$official" --config "$official_name" \
        --device "$torch_device" --runs "$runs" --warmup "$warmup" --big-batch "$big_batch" \
        --train-batch "$tb" --train-steps "$train_steps"
done

elapsed=$(( $(date +%s) - start ))
python3 scripts/gpu-check-report.py "$results" "$out" "$elapsed" "$dry"
