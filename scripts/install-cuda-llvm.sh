#!/usr/bin/env bash
# Makes `--features cuda` buildable without access to GitHub.
#
# Burn's CUDA backend compiles its kernels through cubecl-llvm (LLVM -> PTX). Its build dependency
# tracel-llvm-bundler downloads an LLVM 23.1 bundle from GitHub unless
#   ${XDG_DATA_HOME:-~/.local/share}/tracel/tracel-llvm-23.1.0-4/.tracel-llvm-installed
# exists; cubecl-llvm then reads `<that dir>/bin/llvm-config` and links LLVM's static libraries
# (with the NVPTX target). The PyPI wheels mlc-llvm-static[all]==23.1.1.post0 ship exactly such an
# SDK (the `[all]` extra adds NVPTX), so this script installs them from the package registry into a
# cache folder and links that SDK where the bundler looks. Idempotent: a second run only checks.
#
#   scripts/install-cuda-llvm.sh            # install (needs pip and python3; python3 must also be
#                                           # on PATH while cargo builds: llvm-config is a script)
#   OSTRACK_LLVM_CACHE=/some/dir scripts/install-cuda-llvm.sh
#   scripts/install-cuda-llvm.sh --wheels DIR   # offline: install from wheels downloaded earlier
#                                               # with `pip download "mlc-llvm-static[all]==23.1.1.post0"`
set -euo pipefail

LLVM_PIN="mlc-llvm-static[all]==23.1.1.post0"
BUNDLE_NAME="tracel-llvm-23.1.0-4"
CACHE="${OSTRACK_LLVM_CACHE:-$HOME/.cache/ostrack-rs/llvm}"
TRACEL_DIR="${XDG_DATA_HOME:-$HOME/.local/share}/tracel"
LINK="$TRACEL_DIR/$BUNDLE_NAME"
MARKER="$LINK/.tracel-llvm-installed"

wheels=""
if [[ "${1:-}" == "--wheels" ]]; then
    wheels="${2:?--wheels needs a folder}"
elif [[ $# -gt 0 ]]; then
    echo "usage: $0 [--wheels DIR]" >&2
    exit 2
fi

die() { echo "install-cuda-llvm: $*" >&2; exit 1; }
command -v python3 >/dev/null || die "python3 is required (pip installs the SDK; llvm-config is a Python script)"

sdk="$CACHE/site/mlc_llvm_static/static"
if [[ ! -x "$sdk/bin/llvm-config" ]] || ! ls "$sdk"/lib/libLLVMNVPTXCodeGen.a >/dev/null 2>&1; then
    echo "install-cuda-llvm: installing $LLVM_PIN into $CACHE/site"
    rm -rf "$CACHE/site.partial"
    mkdir -p "$CACHE"
    pip_args=(install --quiet --no-warn-script-location --target "$CACHE/site.partial")
    if [[ -n "$wheels" ]]; then
        pip_args+=(--no-index --find-links "$wheels")
    fi
    python3 -m pip "${pip_args[@]}" "$LLVM_PIN" || die "pip could not install $LLVM_PIN"
    # The wheel's llvm-config loses its executable bit on some pip versions.
    chmod +x "$CACHE/site.partial/mlc_llvm_static/static/bin/llvm-config"
    rm -rf "$CACHE/site"
    mv "$CACHE/site.partial" "$CACHE/site"
fi
[[ -f "$sdk/lib/libLLVMNVPTXCodeGen.a" ]] || die "$sdk has no NVPTX target (was the [all] extra installed?)"

mkdir -p "$TRACEL_DIR"
if [[ -L "$LINK" ]]; then
    [[ "$(readlink "$LINK")" == "$sdk" ]] || ln -sfn "$sdk" "$LINK"
elif [[ -e "$LINK" ]]; then
    # A real bundle (downloaded by the bundler itself) is already there: leave it alone.
    if [[ -f "$MARKER" ]]; then
        echo "install-cuda-llvm: $LINK already holds an LLVM bundle; nothing to do"
        exit 0
    fi
    die "$LINK exists but is not a complete bundle; remove it and run again"
else
    ln -s "$sdk" "$LINK"
fi
touch "$MARKER"

version="$("$LINK/bin/llvm-config" --version)" || die "$LINK/bin/llvm-config does not run"
[[ "$version" == 23.1.* ]] || die "$LINK/bin/llvm-config reports LLVM $version, expected 23.1"
echo "install-cuda-llvm: LLVM $version SDK at $LINK (cache $CACHE)"
