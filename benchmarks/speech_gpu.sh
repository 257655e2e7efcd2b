#!/usr/bin/env bash
# The speech benchmark on a CUDA GPU, as-is: installs the project and espeak-ng if needed,
# then whisper_tiny_en (CTranslate2) in float16 on the GPU for 1, 2 and 4 concurrent
# transcriptions, each process with the model loaded. Results: benchmarks/results/speech_cuda.json.
# CTranslate2's wheel loads CUDA 12's cuBLAS and cuDNN 9 from the system; where they are
# missing, `pip install nvidia-cublas-cu12 nvidia-cudnn-cu12==9.*` into .venv and put their
# lib folders on LD_LIBRARY_PATH.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || make install
command -v espeak-ng >/dev/null || make test-packages
.venv/bin/python -c "import ctranslate2; assert ctranslate2.get_cuda_device_count() > 0, 'no CUDA GPU visible to CTranslate2'"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
.venv/bin/python -m benchmarks.speech --device cuda "$@"
