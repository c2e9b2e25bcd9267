"""Which backbone made a feature file: the record that feature extraction writes beside it.

For every feature file it writes (``<output_name>.npz``, and the generic format's ``features.npy``),
extraction also writes ``<stem>.backbone.json`` beside it (``vit_b16_features.backbone.json``,
``features.backbone.json``) holding

- ``features_file``, ``features_sha256``: the file described and its SHA-256, so that a reader can tell
  whether the file is still the one the backbone wrote;
- ``backbone``: the backbone's identity (:meth:`BackboneSpec.identity`: timm model name, where the
  weights came from, precision) and ``weights_cache_dir``, enough to build the same backbone again
  (:meth:`BackboneRecord.spec`).

The training run that logs the served model reads it to package the backbone with the model
(``fsigenz.serving.ImageBackbone``).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from fsigenz.features.backbone import BackboneSpec

RECORD_SUFFIX = ".backbone.json"
RECORD_FIELDS = ("features_file", "features_sha256", "backbone", "weights_cache_dir")
HASH_BLOCK_BYTES = 1 << 20


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(HASH_BLOCK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def record_file(features_file: str | Path) -> Path:
    """Where the record of ``features_file`` lives: ``<stem>.backbone.json`` in the same folder."""
    features_file = Path(features_file)
    return features_file.with_name(features_file.stem + RECORD_SUFFIX)


@dataclass(frozen=True)
class BackboneRecord:
    """The backbone that made ``features_file`` (see the module docstring)."""

    features_file: Path
    features_sha256: str
    backbone: dict
    weights_cache_dir: str | None = None

    @classmethod
    def of_file(
        cls, features_file: str | Path, identity: dict, weights_cache_dir: str | Path | None = None
    ) -> BackboneRecord:
        """The record of a feature file just written with the backbone of ``identity``."""
        features_file = Path(features_file)
        return cls(
            features_file=features_file,
            features_sha256=file_sha256(features_file),
            backbone=dict(identity),
            weights_cache_dir=str(weights_cache_dir) if weights_cache_dir is not None else None,
        )

    def write(self) -> Path:
        """Write ``<stem>.backbone.json`` beside the feature file (atomically); return its path."""
        target = record_file(self.features_file)
        content = {
            "features_file": self.features_file.name,
            "features_sha256": self.features_sha256,
            "backbone": self.backbone,
            "weights_cache_dir": self.weights_cache_dir,
        }
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(json.dumps(content, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, target)
        return target

    @classmethod
    def read(cls, features_file: str | Path) -> BackboneRecord | None:
        """The record beside ``features_file``, or None when there is none."""
        features_file = Path(features_file)
        path = record_file(features_file)
        if not path.is_file():
            return None
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise ValueError(f"{path}: not a readable JSON backbone record ({error})") from error
        absent = (
            [key for key in RECORD_FIELDS if key not in content]
            if isinstance(content, dict)
            else list(RECORD_FIELDS)
        )
        if absent:
            raise ValueError(
                f"{path}: expected the fields {list(RECORD_FIELDS)} of a backbone record; missing {absent}"
            )
        if content["features_file"] != features_file.name:
            raise ValueError(
                f"{path}: field 'features_file': expected '{features_file.name}', the file it sits beside, "
                f"got '{content['features_file']}'"
            )
        return cls(
            features_file, content["features_sha256"], content["backbone"], content["weights_cache_dir"]
        )

    def describes_current_file(self) -> bool:
        """Whether ``features_file`` still has the bytes the backbone wrote."""
        return self.features_file.is_file() and file_sha256(self.features_file) == self.features_sha256

    def spec(self, device: str = "cpu") -> BackboneSpec:
        """The spec that builds this backbone again (same model, same weights)."""
        return BackboneSpec.from_identity(self.backbone, device=device, cache_dir=self.weights_cache_dir)
