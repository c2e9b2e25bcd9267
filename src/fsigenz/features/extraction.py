"""Chunked, resumable extraction of backbone features for an :class:`ImageList`.

Rows are processed in chunks of ``chunk_size`` images; each finished chunk is saved (atomically) in
``<output_name>.chunks/`` beside the output, with a manifest fingerprinting the backbone, the image
list and the chunking. A later call reuses every saved chunk with the same fingerprint, so an
interrupted extraction continues where it stopped and a finished one only re-assembles its output
(the model is not even built). Batches never cross a chunk boundary, so a resumed run feeds the model
exactly the batches an uninterrupted one would.

Output (``output_dir``):

- ``<output_name>.npz``: ``features`` (N, d) float32, ``labels`` (N,) int64 **1-based** into
  ``class_names`` (C,) str, ``image_files`` (N,) str relative to the image root, and ``res101_rows``
  (N,) int64 (0-based rows of xlsa17's ``res101.mat``) when the list was ordered after one;
- ``<output_name>.skipped.txt``: ``<path>\\t<reason>`` per image left out (empty when none);
- with ``write_generic``: ``features.npy`` (N, d) and ``images.csv`` (``path,label,split``, label = class
  name), row i of one ↔ row i of the other;
- ``<output_name>.backbone.json`` (and ``features.backbone.json`` with ``write_generic``): which backbone
  made the feature file, with its checksum (:mod:`~fsigenz.features.provenance`).

:func:`embed_image_files` embeds a list of image files with a built backbone the same way (same reading,
same preprocessing, same forward), for callers that need features of a few images now (the served model).

Unreadable or missing images stop the extraction with the list of files (missing files before any
model is built; undecodable ones after the other chunks are saved), unless ``skip_unreadable`` is set.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import logging
import os
import shutil
import time
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from fsigenz.features.backbone import Backbone, BackboneSpec
from fsigenz.features.image_lists import ImageList
from fsigenz.features.provenance import BackboneRecord
from fsigenz.progress import (
    SILENT,
    ProgressDisplay,
    current_observer,
    display_mode,
    observed_by,
    training_stage,
)

MANIFEST_NAME = "manifest.json"
MAX_LISTED_FILES = 20
GENERIC_FEATURES_NAME = "features.npy"
GENERIC_IMAGES_NAME = "images.csv"

logger = logging.getLogger(__name__)


class UnreadableImagesError(RuntimeError):
    """Images are missing or cannot be decoded; ``files`` lists them as ``(path, reason)``."""

    def __init__(self, files: list[tuple[str, str]], list_file: Path) -> None:
        self.files = files
        shown = "\n".join(f"  {path}: {reason}" for path, reason in files[:MAX_LISTED_FILES])
        more = f"\n  … and {len(files) - MAX_LISTED_FILES} more" if len(files) > MAX_LISTED_FILES else ""
        super().__init__(
            f"{len(files)} image(s) are missing or unreadable (full list in '{list_file}'):\n{shown}{more}\n"
            "Fix or remove them, or set skip_unreadable: true to leave them out "
            "(they are then listed in <output_name>.skipped.txt)."
        )


class ImageFilesError(ValueError):
    """Image files given to :func:`embed_image_files` are missing or cannot be decoded;
    ``files`` lists them as ``(position in the list, path, reason)``."""

    def __init__(self, files: list[tuple[int, str, str]]) -> None:
        self.files = files
        shown = "; ".join(f"'{path}' ({reason})" for _, path, reason in files[:MAX_LISTED_FILES])
        more = f"; … and {len(files) - MAX_LISTED_FILES} more" if len(files) > MAX_LISTED_FILES else ""
        super().__init__(f"{len(files)} image file(s) cannot be read: {shown}{more}")


@dataclass(frozen=True)
class ExtractionResult:
    """What an extraction wrote and how fast it ran (``images_per_s`` counts this call's images)."""

    output_file: Path
    skipped_file: Path
    generic_files: tuple[Path, ...]
    n_images: int
    n_skipped: int
    n_extracted: int
    n_reused: int
    feature_dim: int
    seconds: float
    images_per_s: float
    record_files: tuple[Path, ...] = ()

    def summary(self) -> dict:
        """JSON-friendly view (paths as strings)."""
        out = asdict(self)
        out["output_file"], out["skipped_file"] = str(self.output_file), str(self.skipped_file)
        out["generic_files"] = [str(p) for p in self.generic_files]
        out["record_files"] = [str(p) for p in self.record_files]
        return out


# ---------------------------------------------------------------------------------------- loading
class ImageFileDataset(Dataset):
    """Item ``row`` → ``(image tensor or None, row, reason)``; an unreadable file gives None and why."""

    def __init__(self, files: list[Path], transform) -> None:
        self.files, self.transform = files, transform

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, row: int) -> tuple[torch.Tensor | None, int, str]:
        path = self.files[row]
        try:
            with Image.open(path) as image:
                rgb = image.convert("RGB")
        except FileNotFoundError:
            return None, row, "missing"
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
            return None, row, f"{type(error).__name__}: {error}"
        return self.transform(rgb), row, ""


def collate_images(items: list) -> tuple[torch.Tensor | None, list[int], list[tuple[int, str]]]:
    """Stack the readable images; keep the rows of the others with their reasons."""
    images = [image for image, _, _ in items if image is not None]
    rows = [row for image, row, _ in items if image is not None]
    failed = [(row, reason) for image, row, reason in items if image is None]
    return (torch.stack(images) if images else None), rows, failed


# ---------------------------------------------------------------------------------------- chunks
def _digest(payload: object) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _fingerprint(images: ImageList, identity: dict, chunk_size: int) -> str:
    listing = hashlib.sha256()
    for path, label in zip(images.paths, images.labels.tolist(), strict=True):
        listing.update(f"{path}\t{label}\n".encode())
    listing.update("\n".join(images.class_names).encode())
    return _digest({"backbone": identity, "images": listing.hexdigest(), "chunk_size": chunk_size})


def _atomic_save_npz(path: Path, **arrays: np.ndarray) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as handle:
        np.savez(handle, **arrays)
    os.replace(tmp, path)


def _chunk_file(chunk_dir: Path, index: int) -> Path:
    return chunk_dir / f"chunk_{index:06d}.npz"


def _load_chunk(path: Path, rows: range) -> dict | None:
    """A saved chunk, or None if absent or not a complete chunk of these rows."""
    if not path.is_file():
        return None
    try:
        with np.load(path) as data:
            chunk = {key: data[key] for key in ("rows", "features", "skipped_rows", "skipped_reasons")}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        logger.warning("Ignoring unreadable chunk %s (%s); it is extracted again", path, error)
        return None
    done = np.sort(np.concatenate([chunk["rows"], chunk["skipped_rows"]]))
    if not np.array_equal(done, np.arange(rows.start, rows.stop)):
        logger.warning("Ignoring chunk %s: it does not cover rows %d-%d", path, rows.start, rows.stop - 1)
        return None
    return chunk


def _prepare_chunk_dir(chunk_dir: Path, manifest: dict) -> None:
    """Create the chunk folder; drop chunks made with another backbone, image list or chunk size."""
    manifest_file = chunk_dir / MANIFEST_NAME
    if manifest_file.is_file():
        try:
            previous = json.loads(manifest_file.read_text())
        except json.JSONDecodeError:
            previous = {}
        if previous.get("fingerprint") == manifest["fingerprint"]:
            return
        logger.warning(
            "Chunks in %s were made with other settings (%s); extracting again",
            chunk_dir,
            previous.get("backbone"),
        )
        shutil.rmtree(chunk_dir)
    chunk_dir.mkdir(parents=True, exist_ok=True)
    manifest_file.write_text(json.dumps(manifest, indent=2))


# ---------------------------------------------------------------------------------------- outputs
def _write_list(path: Path, entries: list[tuple[str, str]]) -> None:
    path.write_text("".join(f"{file}\t{reason}\n" for file, reason in entries), encoding="utf-8")


def _write_outputs(
    images: ImageList, rows: np.ndarray, features: np.ndarray, output_file: Path, write_generic: bool
) -> tuple[Path, ...]:
    arrays = {
        "features": features.astype(np.float32, copy=False),
        "labels": images.labels[rows] + 1,  # 1-based, as in xlsa17's res101.mat
        "class_names": np.array(images.class_names, dtype=str),
        "image_files": np.array([images.paths[r] for r in rows], dtype=str),
    }
    if images.source_rows is not None:
        arrays["res101_rows"] = images.source_rows[rows]
    _atomic_save_npz(output_file, **arrays)
    if not write_generic:
        return ()
    features_file = output_file.parent / GENERIC_FEATURES_NAME
    images_file = output_file.parent / GENERIC_IMAGES_NAME
    tmp = features_file.with_name(features_file.name + ".tmp")
    with tmp.open("wb") as handle:
        np.save(handle, arrays["features"])
    os.replace(tmp, features_file)
    with images_file.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "label", "split"])
        for r in rows:
            split = images.splits[r] if images.splits is not None else ""
            writer.writerow([images.paths[r], images.class_names[images.labels[r]], split])
    return features_file, images_file


def _check_positive(name: str, value: int, minimum: int = 1) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")


# ---------------------------------------------------------------------------------------- extraction
def extract_features(
    images: ImageList,
    backbone: BackboneSpec | Backbone,
    output_dir: str | Path,
    output_name: str,
    *,
    batch_size: int = 64,
    num_workers: int = 4,
    chunk_size: int = 2048,
    skip_unreadable: bool = False,
    write_generic: bool = False,
    progress: bool = True,
) -> ExtractionResult:
    """Embed every image of ``images`` with ``backbone`` and write the feature file (see module doc).

    ``backbone`` may be a :class:`BackboneSpec`, built only when some chunk still needs extracting.
    ``progress``: report the images embedded (:mod:`fsigenz.progress`) to the current observer, or to a
    display of its own when nobody watches; false: to nobody.
    """
    _check_positive("batch_size", batch_size)
    _check_positive("chunk_size", chunk_size)
    _check_positive("num_workers", num_workers, minimum=0)
    if write_generic:
        splits = images.splits or [""] * len(images)
        no_split = [p for p, split in zip(images.paths, splits, strict=True) if not split]
        if no_split:
            raise ValueError(
                f"write_generic: the generic format needs a split (trainval / test_seen / test_unseen) per "
                f"image; {images.source} gives none for {len(no_split)} image(s), e.g. {no_split[:3]}"
            )
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    output_file = output_dir / f"{output_name}.npz"
    skipped_file = output_dir / f"{output_name}.skipped.txt"
    unreadable_file = output_dir / f"{output_name}.unreadable.txt"
    chunk_dir = output_dir / f"{output_name}.chunks"

    identity = backbone.identity if isinstance(backbone, Backbone) else backbone.identity()
    n = len(images)
    chunks = [range(start, min(start + chunk_size, n)) for start in range(0, n, chunk_size)]
    fingerprint = _fingerprint(images, identity, chunk_size)
    _prepare_chunk_dir(
        chunk_dir,
        {
            "fingerprint": fingerprint,
            "backbone": identity,
            "n_images": n,
            "chunk_size": chunk_size,
            "source": images.source,
        },
    )
    saved = {}
    for index, rows in enumerate(chunks):
        chunk = _load_chunk(_chunk_file(chunk_dir, index), rows)
        # a chunk that skipped images is complete only for a run that allows skipping
        if chunk is not None and (skip_unreadable or chunk["skipped_rows"].size == 0):
            saved[index] = chunk
    pending = [index for index in range(len(chunks)) if index not in saved]
    n_reused = sum(len(chunks[i]) for i in saved)

    if pending and not skip_unreadable:
        missing = [r for i in pending for r in chunks[i] if not images.file(r).is_file()]
        if missing:
            entries = [(images.paths[r], "missing") for r in missing]
            _write_list(unreadable_file, entries)
            raise UnreadableImagesError(entries, unreadable_file)

    seconds, n_extracted, failures = 0.0, 0, []
    if pending:
        built = backbone if isinstance(backbone, Backbone) else backbone.build()
        start = time.perf_counter()
        n_extracted, failures = _extract_chunks(
            images,
            built,
            chunks,
            pending,
            chunk_dir,
            saved,
            batch_size=batch_size,
            num_workers=num_workers,
            skip_unreadable=skip_unreadable,
            progress=progress,
            n_done=n_reused,
            desc=output_name,
        )
        seconds = time.perf_counter() - start
        logger.info(
            "Extracted %d images in %.1f s (%.1f images/s) into %s",
            n_extracted,
            seconds,
            n_extracted / max(seconds, 1e-9),
            chunk_dir,
        )
    if failures:
        entries = [(images.paths[r], reason) for r, reason in failures]
        _write_list(unreadable_file, entries)
        raise UnreadableImagesError(entries, unreadable_file)

    ordered = [saved[i] for i in range(len(chunks))]
    rows = np.concatenate([c["rows"] for c in ordered]).astype(np.int64)
    features = np.concatenate([c["features"] for c in ordered])
    skipped = sorted(
        (int(r), str(reason))
        for c in ordered
        for r, reason in zip(c["skipped_rows"], c["skipped_reasons"], strict=True)
    )
    _write_list(skipped_file, [(images.paths[r], reason) for r, reason in skipped])
    unreadable_file.unlink(missing_ok=True)
    if rows.size == 0:
        raise ValueError(f"{images.source}: none of the {n} images is readable; see '{skipped_file}'")
    generic_files = _write_outputs(images, rows, features, output_file, write_generic)
    cache_dir = backbone.cache_dir if isinstance(backbone, BackboneSpec) else None
    record_files = tuple(
        BackboneRecord.of_file(features_file, identity, cache_dir).write()
        for features_file in (output_file, *generic_files[:1])  # the .npz and the generic features.npy
    )
    if skipped:
        logger.warning("Skipped %d unreadable image(s), listed in %s", len(skipped), skipped_file)
    return ExtractionResult(
        output_file=output_file,
        skipped_file=skipped_file,
        generic_files=generic_files,
        n_images=int(rows.size),
        n_skipped=len(skipped),
        n_extracted=n_extracted,
        n_reused=n_reused,
        feature_dim=int(features.shape[1]),
        seconds=round(seconds, 3),
        images_per_s=round(n_extracted / seconds, 2) if seconds > 0 else 0.0,
        record_files=record_files,
    )


def embed_image_files(backbone: Backbone, files: list[str | Path], batch_size: int = 32) -> np.ndarray:
    """(N, d) float32 features of the image ``files``, in order, read and preprocessed as
    :func:`extract_features` does (same loader, the backbone's transform, same forward).

    Raises :class:`ImageFilesError` naming every missing file before any forward pass, and the
    undecodable files of the first batch that holds one.
    """
    _check_positive("batch_size", batch_size)
    files = [Path(file) for file in files]
    absent = [
        (row, str(file), "missing" if not file.exists() else "not a file")
        for row, file in enumerate(files)
        if not file.is_file()
    ]
    if absent:
        raise ImageFilesError(absent)
    loader = DataLoader(
        ImageFileDataset(files, backbone.transform), batch_size=batch_size, collate_fn=collate_images
    )
    features = []
    for batch, _, failed in loader:
        if failed:
            raise ImageFilesError([(row, str(files[row]), reason) for row, reason in failed])
        features.append(backbone.embed(batch))
    return np.concatenate(features) if features else np.zeros((0, backbone.feature_dim), np.float32)


def _watched(progress: bool) -> contextlib.AbstractContextManager:
    """``progress`` off: nobody hears the extraction; on: whoever watches already (a Kedro run's
    hooks), else a display of its own (a bar on a terminal, log lines otherwise; ``FSIGENZ_PROGRESS``)."""
    if not progress:
        return observed_by(None)
    if current_observer() is SILENT:
        return observed_by(ProgressDisplay(display_mode()))
    return contextlib.nullcontext()


def _extract_chunks(
    images: ImageList,
    backbone: Backbone,
    chunks: list[range],
    pending: list[int],
    chunk_dir: Path,
    saved: dict,
    *,
    batch_size: int,
    num_workers: int,
    skip_unreadable: bool,
    progress: bool,
    n_done: int,
    desc: str,
) -> tuple[int, list[tuple[int, str]]]:
    """Embed the ``pending`` chunks, saving each as it completes; return (#embedded, failures)."""
    batches, last_batch_of = [], {}
    for index in pending:
        rows = list(chunks[index])
        batches.extend(rows[i : i + batch_size] for i in range(0, len(rows), batch_size))
        last_batch_of[len(batches) - 1] = index
    dataset = ImageFileDataset([images.file(r) for r in range(len(images))], backbone.transform)
    loader = DataLoader(
        dataset,
        batch_sampler=batches,
        num_workers=num_workers,
        collate_fn=collate_images,
        pin_memory=backbone.device.type == "cuda",
        prefetch_factor=4 if num_workers > 0 else None,
    )
    n_extracted, failures = 0, []
    chunk_rows, chunk_features, chunk_failed = [], [], []
    n_seen = n_done
    with _watched(progress), training_stage(f"{desc}.images", len(images), n_done) as bar:
        for batch_index, (batch, rows, failed) in enumerate(loader):
            if batch is not None:
                chunk_features.append(backbone.embed(batch))
                chunk_rows.extend(rows)
                n_extracted += len(rows)
            chunk_failed.extend(failed)
            n_seen += len(rows) + len(failed)
            bar.step(n_seen)
            if batch_index not in last_batch_of:
                continue
            index = last_batch_of[batch_index]
            chunk = {
                "rows": np.asarray(chunk_rows, dtype=np.int64),
                "features": (
                    np.concatenate(chunk_features)
                    if chunk_features
                    else np.zeros((0, backbone.feature_dim), np.float32)
                ),
                "skipped_rows": np.asarray([r for r, _ in chunk_failed], dtype=np.int64),
                "skipped_reasons": np.asarray([why for _, why in chunk_failed], dtype=str),
            }
            if chunk_failed and not skip_unreadable:
                failures.extend(chunk_failed)  # not saved: redone once the files are fixed
            else:
                _atomic_save_npz(_chunk_file(chunk_dir, index), **chunk)
                saved[index] = chunk
            chunk_rows, chunk_features, chunk_failed = [], [], []
    return n_extracted, failures
