"""The image backbone that travels with a served model, so that it can score image files.

A training run decides, from the dataset's source block, which feature file its features came from.
When feature extraction wrote that file (a backbone record beside it, still matching the file's
checksum; :mod:`fsigenz.features.provenance`), the backbone is built again from the same weights and
kept as a :class:`~fsigenz.features.BackboneSnapshot` (model name, weights, preprocessing): the
served model then embeds ``image_path`` rows exactly as the training features were made. Otherwise
the :class:`ImageBackbone` holds no weights, only the reason, which the served model gives to
whoever sends image paths.

The weights are the bulk of a logged model that has them (about 350 MB for ViT-B/16); the parameter
``image_backbone.include: false`` leaves them out.

timm is imported only when a backbone is packaged or used, not on import.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from fsigenz.data.sources import SOURCE_LOADERS

if TYPE_CHECKING:
    from fsigenz.features import Backbone, BackboneSnapshot

logger = logging.getLogger(__name__)

DEFAULT_BATCH_SIZE = 32
FEATURES_FILE_OPTION = "features_file"  # the source option naming the feature file (xlsa17, generic)


class NoImageBackboneError(ValueError):
    """The model has no image backbone; the message says why."""


def source_features_file(source: dict) -> Path | None:
    """The feature file a source block reads (``<directory>/<features_file>``, the reader's default
    name when unset), or None for a source that reads none (``synthetic`` generates its features)."""
    loader = SOURCE_LOADERS.get(source.get("type"))
    if loader is None:
        return None
    option = inspect.signature(loader).parameters.get(FEATURES_FILE_OPTION)
    if option is None or "directory" not in source:
        return None
    return Path(source["directory"]) / source.get(FEATURES_FILE_OPTION, option.default)


@dataclass
class ImageBackbone:
    """What a served model embeds image files with: a backbone ``snapshot``, or None and the reason.

    The backbone is built from the snapshot at the first :meth:`embed` and kept (not pickled). Copies
    share it (``copy.deepcopy`` returns the object itself): the served model copies its inputs for
    every request, and the weights are read-only.
    """

    snapshot: BackboneSnapshot | None
    reason_absent: str = ""
    batch_size: int = DEFAULT_BATCH_SIZE
    _built: Backbone | None = field(default=None, init=False, repr=False, compare=False)

    @classmethod
    def for_source(
        cls, source: dict, include: bool = True, batch_size: int = DEFAULT_BATCH_SIZE
    ) -> ImageBackbone:
        """The backbone that made the features ``source`` reads, or an empty one saying why there is none.

        Builds the backbone (on the CPU) from the weights named by the feature file's backbone record;
        fails, naming the record, when those weights can no longer be loaded as they were at extraction.
        """
        if not isinstance(include, bool):
            raise ValueError(f"image_backbone.include: expected true or false, got {include!r}")
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"image_backbone.batch_size: expected an integer >= 1, got {batch_size!r}")
        if not include:
            return cls(
                None, "the training run was told to leave it out (image_backbone.include: false)", batch_size
            )
        features_file = source_features_file(source)
        if features_file is None:
            return cls(
                None,
                f"its training features come from the '{source.get('type')}' source, which reads no feature "
                "file (no image backbone made them)",
                batch_size,
            )
        from fsigenz.features import BackboneRecord
        from fsigenz.features.provenance import record_file

        record = BackboneRecord.read(features_file)
        if record is None:
            return cls(
                None,
                f"its training features ({features_file}) were not made by this project's feature_extraction "
                f"pipeline (no backbone record {record_file(features_file).name} beside them)",
                batch_size,
            )
        if not record.describes_current_file():
            logger.warning(
                "%s changed after feature extraction; the model is logged without its backbone", features_file
            )
            return cls(
                None,
                f"its training features ({features_file}) changed after feature_extraction wrote "
                f"{record_file(features_file).name} (checksum differs), "
                "so which backbone made them is unknown",
                batch_size,
            )
        return cls(_snapshot_of_recorded_backbone(record, features_file), "", batch_size)

    @property
    def available(self) -> bool:
        return self.snapshot is not None

    def embed(self, files: list[str | Path]) -> np.ndarray:
        """(N, d) features of the image ``files`` (``fsigenz.features.embed_image_files``)."""
        from fsigenz.features import embed_image_files

        return embed_image_files(self._backbone(), files, self.batch_size)

    def _backbone(self) -> Backbone:
        if self.snapshot is None:
            raise NoImageBackboneError(f"no image backbone: {self.reason_absent}")
        if self._built is None:
            self._built = self.snapshot.build()
            logger.info("Built the image backbone %s (%s)", self.snapshot.model_name, self._built.device)
        return self._built

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_built": None}

    def __deepcopy__(self, memo: dict) -> ImageBackbone:
        return self


def _snapshot_of_recorded_backbone(record, features_file: Path) -> BackboneSnapshot:
    """The recorded backbone, built again from the same weights, as a snapshot."""
    from fsigenz.features import BackboneWeightsError
    from fsigenz.features.provenance import record_file

    where = f"{record_file(features_file)}: field 'backbone'"
    leave_out = "or set image_backbone.include: false to log the model without its backbone"
    spec = record.spec(device="cpu")
    try:
        identity = spec.identity()  # fails, naming it, when a recorded checkpoint file is gone
        recorded = {k: v for k, v in record.backbone.items() if k != "precision"}
        current = {k: v for k, v in identity.items() if k != "precision"}
        if current != recorded:
            raise BackboneWeightsError(
                f"the features were made with {recorded}, but those weights now are {current} "
                "(the checkpoint file changed)"
            )
        logger.info(
            "Packaging the image backbone %s (weights: %s) with the model",
            spec.model_name,
            recorded["weights"],
        )
        return spec.build().snapshot()
    except BackboneWeightsError as error:
        raise BackboneWeightsError(
            f"{where}: cannot load the backbone that made {features_file.name} to log it with the model: "
            f"{error}. Restore its weights, {leave_out}."
        ) from error
