#!/usr/bin/env bash
# Vicky on a CUDA GPU, as-is: installs the project if needed, builds a random ~0.5B Qwen2
# model, serves it in bf16 on Ray Serve, and prints tokens/s batched against unbatched.
# Results: benchmarks/results/vicky_gpu.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export RAY_AUTH_MODE="${RAY_AUTH_MODE:-disabled}" HF_HUB_OFFLINE=1
[ -x .venv/bin/python ] || make install
.venv/bin/python -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU visible'"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
.venv/bin/python -m benchmarks.vicky_gpu --device cuda "$@"
