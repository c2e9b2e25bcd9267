"""One entry point for every data source, chosen by the ``type`` field of a source block."""

from __future__ import annotations

import inspect
from collections.abc import Callable

from fsigenz.data.dataset import DataValidationError, ZeroShotDataset
from fsigenz.data.generic import load_generic
from fsigenz.data.synthetic import make_synthetic_benchmark
from fsigenz.data.xlsa17 import load_xlsa17

SOURCE_LOADERS: dict[str, Callable[..., ZeroShotDataset]] = {
    "synthetic": make_synthetic_benchmark,
    "xlsa17": load_xlsa17,
    "generic": load_generic,
}


def load_source(source: dict) -> ZeroShotDataset:
    """Build the dataset a source block describes, e.g. ``{"type": "xlsa17", "directory": ...}``."""
    if not isinstance(source, dict) or "type" not in source:
        raise DataValidationError(
            f"source: field 'type': expected one of {sorted(SOURCE_LOADERS)}, got {source!r}"
        )
    kind = source["type"]
    if kind not in SOURCE_LOADERS:
        raise DataValidationError(
            f"source: field 'type': expected one of {sorted(SOURCE_LOADERS)}, got '{kind}'"
        )
    loader = SOURCE_LOADERS[kind]
    options = {k: v for k, v in source.items() if k != "type"}
    accepted = inspect.signature(loader).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
        unknown = sorted(set(options) - set(accepted))
        if unknown:
            raise DataValidationError(
                f"source ({kind}): unknown option(s) {unknown}; accepted: {sorted(accepted)}"
            )
    return loader(**options)
