#!/usr/bin/env bash
# The GPU path of `loupe code`, measured in one command on a machine with an NVIDIA GPU.
#
#   scripts/bench_gpu.sh [OUT_DIR]          (default: bench-results/gpu)
#
# 1. checks for a GPU (nvidia-smi), 2. installs Loupe with the pinned torch (torch==2.13.0; its
# Linux wheel carries CUDA), 3. runs scripts/bench_gpu.py: raw SentenceTransformer.encode and the
# pipeline, fp16 and bf16, on the rows and windows corpora, for each batch size, best of REPEATS,
# 4. writes OUT_DIR/gpu.json (and the log beside it).
#
# Environment (all optional):
#   SEGMENTS=20000  BATCH_SIZES=64,128,256,512  PRECISIONS=fp16,bf16  SHAPES=rows,windows  REPEATS=3
#   LOUPE_BENCH_SENTENCES   the Benoit sentences.csv, where ../shared/datasets is not beside the checkout
#   PIP_ARGS                extra pip arguments, e.g. "--no-index --find-links wheels/" with no network
#   SKIP_INSTALL=1          use the Python environment as it is
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-bench-results/gpu}"
mkdir -p "$OUT"

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader; then
    echo "bench_gpu.sh: no NVIDIA GPU here (nvidia-smi failed); nothing measured" >&2
    exit 2
fi
if [ "${SKIP_INSTALL:-0}" != "1" ]; then
    # shellcheck disable=SC2086  # PIP_ARGS is a list of arguments
    python3 -m pip install --quiet ${PIP_ARGS:-} "torch==2.13.0" -e .
fi
python3 -c "import torch, sys; print('torch', torch.__version__, 'cuda', torch.version.cuda); sys.exit(0 if torch.cuda.is_available() else 2)" \
    || { echo "bench_gpu.sh: torch sees no CUDA GPU; nothing measured" >&2; exit 2; }

export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
python3 -m scripts.bench_gpu \
    --segments "${SEGMENTS:-20000}" --batch-sizes "${BATCH_SIZES:-64,128,256,512}" \
    --precisions "${PRECISIONS:-fp16,bf16}" --shapes "${SHAPES:-rows,windows}" --repeats "${REPEATS:-3}" \
    --out "$OUT" 2>&1 | tee "$OUT/bench_gpu.log"
