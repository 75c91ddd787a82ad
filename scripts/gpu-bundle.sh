#!/usr/bin/env bash
# Prepares what `scripts/gpu-check.sh` needs on a device machine (no Rust toolchain, no network
# there) in the git-ignored folder gpu-bundle/, at most 64 MiB in all:
#   gpu-bundle/ostrack.xz   stripped release binary with the `cuda` and `vulkan` backends
#   gpu-bundle/fixtures/    the model parity fixtures (and the checkpoint one of them needs)
#   gpu-bundle/wheels/      timm 0.5.4 and easydict (pure Python) for the official code
#   gpu-bundle/OSTrack/     the official botaoye/OSTrack source, for the PyTorch side (never
#                           committed; give a checkout or a bare git directory as OSTRACK_OFFICIAL_SRC)
# Then, with the device tool: carry `gpu-bundle` and run `scripts/gpu-check.sh --out $OUT`.
#
#   OSTRACK_OFFICIAL_SRC=/path/to/OSTrack scripts/gpu-bundle.sh
# Builds in ${OSTRACK_CUDA_TARGET:-~/.cache/ostrack-rs/target-cuda} (about 26 minutes cold on
# 2 cores) after scripts/install-cuda-llvm.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=gpu-bundle
fixtures="${OSTRACK_FIXTURES:-../shared/fixtures}"
target="${OSTRACK_CUDA_TARGET:-$HOME/.cache/ostrack-rs/target-cuda}"
limit=$((64 * 1024 * 1024))

scripts/install-cuda-llvm.sh
CARGO_TARGET_DIR="$target" cargo build --release -p ostrack-cli --features "cuda vulkan"
mkdir -p "$bundle/fixtures"
strip -o "$bundle/ostrack" "$target/release/ostrack"
xz -6 -T2 -f "$bundle/ostrack"
for f in model_tiny_ce model_tiny_noce OSTrack_ep0001.expected; do
    cp "$fixtures/$f.safetensors" "$fixtures/$f.json" "$bundle/fixtures/"
done
cp "$fixtures/OSTrack_ep0001.pth.tar" "$bundle/fixtures/"
if [[ -n "${OSTRACK_OFFICIAL_SRC:-}" ]]; then
    rm -rf "$bundle/OSTrack"
    if [[ -d "$OSTRACK_OFFICIAL_SRC/.git" || ! -d "$OSTRACK_OFFICIAL_SRC/objects" ]]; then
        cp -r "$OSTRACK_OFFICIAL_SRC" "$bundle/OSTrack"
        rm -rf "$bundle/OSTrack/.git"
    else
        mkdir -p "$bundle/OSTrack"
        git --git-dir="$OSTRACK_OFFICIAL_SRC" archive HEAD lib experiments | tar -x -C "$bundle/OSTrack"
    fi
fi
# Pure-Python packages the official code imports and a device's PyTorch may lack; a wheel is a
# zip file Python imports from directly (gpu-check.sh puts them on PYTHONPATH).
python3 -m pip download --quiet --no-deps -d "$bundle/wheels" timm==0.5.4 easydict
size=$(du -sb "$bundle" | cut -f1)
echo "gpu-bundle: $((size / 1024 / 1024)) MiB in $bundle"
(( size <= limit )) || { echo "gpu-bundle: over the device tool's 64 MiB carry limit" >&2; exit 1; }
