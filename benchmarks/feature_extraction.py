"""Feature-extraction throughput: the whole pipeline against the bare model forward.

The pipeline (decode + preprocess in loader workers, forward, chunk writes) should reach >= 90 % of the
images/s of the bare forward on an already-preprocessed batch of the same size; the ratio shows what
loading costs. Images are generated (JPEG, 500x375 like CUB's) in a temporary folder; the model is
the default backbone at random initialisation unless --pretrained / --checkpoint-file is given.

    python benchmarks/feature_extraction.py                      # CPU, 64 images, ~2 min on 2 cores
    python benchmarks/feature_extraction.py --device cuda        # CUDA (bf16), 4096 images, a few min

Bare and pipeline runs alternate (--repeats) and the best of each is kept, so that a busy machine
penalises both alike. On a shared CPU the wall-clock ratio is noisy, so the CPU seconds per image
(loader workers included) are compared too: ``cpu_time_ratio`` = bare / pipeline CPU cost per image.
Results are printed and merged into benchmarks/results/feature_extraction.json under the device type.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from fsigenz.features import DEFAULT_MODEL, BackboneSpec, extract_features, read_image_list  # noqa: E402

RESULTS_FILE = Path(__file__).resolve().parent / "results" / "feature_extraction.json"
IMAGE_SIZE = (500, 375)  # width, height of a typical CUB image
DEFAULTS = {  # images, batch size, loader workers
    "cpu": (64, 16, 2),
    "cuda": (4096, 256, min(8, os.cpu_count() or 1)),
}
TARGET_RATIO = 0.9


def make_images(folder: Path, n: int, seed: int = 0) -> Path:
    """``n`` JPEGs in 4 class folders (smooth noise, so they compress like photos) and a CSV list."""
    rng = np.random.default_rng(seed)
    width, height = IMAGE_SIZE
    lines = ["path,class"]
    for i in range(n):
        cls = f"class_{i % 4}"
        coarse = rng.integers(0, 256, (height // 25 + 1, width // 25 + 1, 3), dtype=np.uint8)
        image = Image.fromarray(coarse).resize((width, height), Image.BILINEAR)
        (folder / cls).mkdir(parents=True, exist_ok=True)
        image.save(folder / cls / f"{i:05d}.jpg", quality=90)
        lines.append(f"{cls}/{i:05d}.jpg,{cls}")
    csv_file = folder / "images.csv"
    csv_file.write_text("\n".join(lines) + "\n")
    return csv_file


def cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the loader workers)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def bare_forward(backbone, batch_size: int, n_images: int) -> tuple[float, float]:
    """(images/s, CPU s/image) of ``backbone.embed`` on one preprocessed batch already on the device."""
    size = backbone.data_config["input_size"]
    batch = torch.randn(batch_size, *size).to(backbone.device)
    backbone.embed(batch)  # warm-up
    n_batches = max(1, n_images // batch_size)
    start, cpu_start = time.perf_counter(), cpu_seconds()
    for _ in range(n_batches):
        backbone.embed(batch)  # returns on the host, so CUDA work is finished
    n = n_batches * batch_size
    return n / (time.perf_counter() - start), (cpu_seconds() - cpu_start) / n


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument(
        "--device", default="cuda" if torch.cuda.is_available() else "cpu", choices=["cpu", "cuda"]
    )
    parser.add_argument(
        "--images", type=int, help="number of generated images (default: 64 on CPU, 4096 on CUDA)"
    )
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--num-workers", type=int)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--pretrained", action="store_true", help="hub weights (default: random init)")
    parser.add_argument("--checkpoint-file")
    args = parser.parse_args(argv)
    n_images, batch_size, num_workers = DEFAULTS[args.device]
    n_images = args.images or n_images
    batch_size = args.batch_size or batch_size
    num_workers = num_workers if args.num_workers is None else args.num_workers

    spec = BackboneSpec(
        args.model,
        pretrained=args.pretrained or bool(args.checkpoint_file),
        checkpoint_file=args.checkpoint_file,
        device=args.device,
    )
    backbone = spec.build()
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        start = time.perf_counter()
        images = read_image_list("csv", tmp / "images", make_images(tmp / "images", n_images))
        print(f"generated {n_images} images in {time.perf_counter() - start:.1f} s", flush=True)
        for repeat in range(args.repeats):
            bare, bare_cpu = bare_forward(backbone, batch_size, n_images)
            start, cpu_start = time.perf_counter(), cpu_seconds()
            result = extract_features(
                images,
                backbone,
                tmp / f"out_{repeat}",
                "features",
                batch_size=batch_size,
                num_workers=num_workers,
                chunk_size=max(batch_size, 1024),
                progress=False,
            )
            end_to_end = n_images / (time.perf_counter() - start)
            pipeline_cpu = (cpu_seconds() - cpu_start) / n_images
            runs.append(
                {
                    "bare": bare,
                    "pipeline": result.images_per_s,
                    "end_to_end": end_to_end,
                    "bare_cpu_s_per_image": bare_cpu,
                    "pipeline_cpu_s_per_image": pipeline_cpu,
                }
            )
            print(
                f"repeat {repeat}: bare {bare:.2f} img/s ({bare_cpu:.3f} CPU s/img), pipeline "
                f"{result.images_per_s:.2f} img/s ({pipeline_cpu:.3f} CPU s/img), end-to-end "
                f"{end_to_end:.2f} img/s",
                flush=True,
            )

    bare = max(r["bare"] for r in runs)
    pipeline = max(r["pipeline"] for r in runs)
    end_to_end = max(r["end_to_end"] for r in runs)
    bare_cpu = min(r["bare_cpu_s_per_image"] for r in runs)
    pipeline_cpu = min(r["pipeline_cpu_s_per_image"] for r in runs)
    record = {
        "model": args.model,
        "weights": spec.identity()["weights"],
        "device": torch.cuda.get_device_name() if args.device == "cuda" else platform.processor() or "cpu",
        "precision": spec.identity()["precision"],
        "images": n_images,
        "batch_size": batch_size,
        "num_workers": num_workers,
        "torch_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "bare_forward_images_per_s": round(bare, 2),
        "pipeline_images_per_s": round(pipeline, 2),
        "end_to_end_images_per_s": round(end_to_end, 2),
        "ratio": round(pipeline / bare, 3),
        "bare_cpu_s_per_image": round(bare_cpu, 4),
        "pipeline_cpu_s_per_image": round(pipeline_cpu, 4),
        "cpu_time_ratio": round(bare_cpu / pipeline_cpu, 3),
        "target_ratio": TARGET_RATIO,
        "runs": [{k: round(v, 4) for k, v in r.items()} for r in runs],
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    print()
    header = (
        f"{'model':<34} {'device':<6} {'batch':>5} {'workers':>7} {'bare img/s':>10} {'pipeline img/s':>14}"
    )
    print(f"{header} {'ratio':>6} {'CPU-time ratio':>14}")
    print(
        f"{args.model:<34} {args.device:<6} {batch_size:>5} {num_workers:>7} {bare:>10.2f} {pipeline:>14.2f} "
        f"{pipeline / bare:>6.1%} {bare_cpu / pipeline_cpu:>14.1%}  (target >= {TARGET_RATIO:.0%})"
    )

    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    results = json.loads(RESULTS_FILE.read_text()) if RESULTS_FILE.is_file() else {}
    results[args.device] = record
    RESULTS_FILE.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {RESULTS_FILE}")
    return record


if __name__ == "__main__":
    main()
