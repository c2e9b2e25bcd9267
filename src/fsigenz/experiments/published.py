"""Published numbers beside the project's, compared only where the inputs match.

A GZSL number depends on the image features (ResNet-101 from xlsa17, a ViT, ...) and on the class
semantics (attributes, sentence embeddings) as much as on the method, so a published row is shown
beside a project row only when both describe the same inputs:

- :func:`describe_data`: what a run's data set is made of, ``{"features": ..., "semantics": ...}``, from
  the dataset's source (xlsa17 ``res101.mat`` with 2 048-d features is :data:`RESNET101_XLSA17`; a
  feature-extraction file names the timm model its backbone record holds; the synthetic generator and
  simulated stand-ins say so and match nothing published);
- :func:`published_table`: ``conf/base/published.yml`` (``published``: a list of entries) → a validated
  DataFrame;
- :func:`published_beside`: the published rows whose dataset, features and semantics match a project
  row's, with the project's interval on H and whether the published H lies outside it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fsigenz.data.xlsa17 import STANDIN_MARKER

RESNET101_XLSA17 = "ResNet-101 (xlsa17)"
ATTRIBUTES = "attributes"
SYNTHETIC = "synthetic"
RESNET101_DIM = 2048

PUBLISHED_FIELDS = ("method", "dataset", "features", "semantics", "unseen", "seen", "h", "source", "verified")
PUBLISHED_COLUMNS = (*PUBLISHED_FIELDS, "label", "note")


def _features_of_file(path: Path, feature_dim: int) -> str:
    if path.suffix in (".npz", ".npy"):
        from fsigenz.features.provenance import BackboneRecord  # imports timm: only for extracted features

        record = BackboneRecord.read(path)
        if record is not None:
            return f"timm:{record.backbone.get('model_name', 'unknown')}"
    if path.suffix == ".mat":
        import scipy.io

        variables = {name for name, _, _ in scipy.io.whosmat(str(path))} if path.is_file() else set()
        if STANDIN_MARKER in variables:
            return f"simulated ({feature_dim}-d stand-in for {path.name})"
        if feature_dim == RESNET101_DIM:
            return RESNET101_XLSA17
        return f"unknown ({path.name}, {feature_dim}-d: not the 2048-d xlsa17 ResNet-101)"
    return f"unknown ({path.name}, no backbone record)"


def describe_data(source: str, metadata: Mapping[str, Any], feature_dim: int) -> dict[str, str]:
    """``features`` and ``semantics`` of a dataset (its ``source``, ``metadata`` and ``feature_dim``)."""
    if "generator_parameters" in metadata:
        return {"features": SYNTHETIC, "semantics": SYNTHETIC}
    if "features_file" in metadata:  # xlsa17: att is what published results use; original_att is unnormalised
        attributes = metadata.get("attributes", "att")
        semantics = ATTRIBUTES if attributes == "att" else f"{ATTRIBUTES} ({attributes})"
        return {
            "features": _features_of_file(Path(metadata["features_file"]), feature_dim),
            "semantics": semantics,
        }
    if "attribute_names" in metadata:  # the generic format: features.npy beside class_attributes.csv
        return {
            "features": _features_of_file(Path(source) / "features.npy", feature_dim),
            "semantics": ATTRIBUTES,
        }
    return {"features": "unknown", "semantics": "unknown"}


# ---------------------------------------------------------------------------------- published table
def published_table(entries: Any, where: str = "published") -> pd.DataFrame:
    """Validate the list of published results; one row per entry, columns :data:`PUBLISHED_COLUMNS`.

    Each entry needs ``method`` (a project method name where the project has it, e.g. ``eszsl``),
    ``dataset`` (namespace: ``cub``, ``awa2``, ``sun``), ``features``, ``semantics``, ``unseen``, ``seen``
    (% or null where the source gives H only), ``h`` (%; checked against U and S), ``source`` (paper and
    table) and ``verified`` (how it was checked, or ``false``); ``label`` (how to print the method) and
    ``note`` are optional.
    """
    if not isinstance(entries, Sequence) or isinstance(entries, (str, bytes)):
        raise ValueError(f"{where}: expected a list of entries, got {type(entries).__name__}")
    rows = []
    for i, entry in enumerate(entries):
        at = f"{where}[{i}]"
        if not isinstance(entry, Mapping):
            raise ValueError(f"{at}: expected a mapping with {list(PUBLISHED_FIELDS)}, got {entry!r}")
        missing = [f for f in PUBLISHED_FIELDS if f not in entry]
        if missing:
            raise ValueError(
                f"{at} ({entry.get('method', '?')}, {entry.get('dataset', '?')}): missing field(s) {missing}"
            )
        unknown = sorted(set(entry) - set(PUBLISHED_COLUMNS))
        if unknown:
            raise ValueError(f"{at}: unknown field(s) {unknown}; expected {list(PUBLISHED_COLUMNS)}")
        for field in ("unseen", "seen", "h"):
            value = entry[field]
            if value is None and field != "h":
                continue  # some sources give H only
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
                raise ValueError(
                    f"{at} ({entry['method']}, {entry['dataset']}): field '{field}': "
                    f"expected a percentage in [0, 100]"
                    f"{' or null' if field != 'h' else ''}, got {value!r}"
                )
        u, s, h = (np.nan if entry[f] is None else float(entry[f]) for f in ("unseen", "seen", "h"))
        expected_h = 0.0 if u + s == 0 else 2 * u * s / (u + s)
        if (
            not np.isnan(expected_h) and abs(expected_h - h) > 0.15
        ):  # papers round U, S and H to one decimal each
            raise ValueError(
                f"{at} ({entry['method']}, {entry['dataset']}): field 'h': {h} is not the harmonic mean of "
                f"U {u} and S {s} ({expected_h:.2f}); check the numbers against the source"
            )
        rows.append(
            {
                **{f: entry[f] for f in PUBLISHED_FIELDS},
                "unseen": u,
                "seen": s,
                "h": h,
                "label": str(entry.get("label") or entry["method"]),
                "note": str(entry.get("note") or ""),
            }
        )
    table = pd.DataFrame(rows, columns=list(PUBLISHED_COLUMNS))
    duplicated = table[table.duplicated(["method", "dataset", "features", "semantics"], keep=False)]
    if not duplicated.empty:
        first = duplicated.iloc[0]
        raise ValueError(
            f"{where}: more than one entry for {first['method']} on {first['dataset']} "
            f"({first['features']}, {first['semantics']})"
        )
    return table


def published_beside(project: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """Published rows whose (dataset, features, semantics) match a row of ``project``.

    ``project``: one row per (dataset, method) with ``dataset``, ``method``, ``features``, ``semantics``,
    ``h`` (the mean over seeds) and ``h_ci95`` (the half-width of its 95 % interval, NaN for a single
    run). Adds to each matching published row ``project_h`` and ``project_h_ci95`` (the project's row of
    the same method, NaN when it has none) and ``outside_interval``: True when the published H lies
    outside ``project_h ± project_h_ci95``, False inside, None when there is no interval to compare with.
    """
    columns = [*PUBLISHED_COLUMNS, "project_h", "project_h_ci95", "outside_interval"]
    if project.empty or published.empty:
        return pd.DataFrame(columns=columns)
    inputs = project[["dataset", "features", "semantics"]].drop_duplicates()
    matched = published.merge(inputs, on=["dataset", "features", "semantics"], how="inner")
    if matched.empty:
        return pd.DataFrame(columns=columns)
    ours = project[["dataset", "method", "features", "semantics", "h", "h_ci95"]].rename(
        columns={"h": "project_h", "h_ci95": "project_h_ci95"}
    )
    matched = matched.merge(ours, on=["dataset", "method", "features", "semantics"], how="left")
    centre = pd.to_numeric(matched["project_h"], errors="coerce")
    half = pd.to_numeric(matched["project_h_ci95"], errors="coerce")
    outside = (matched["h"] - centre).abs() > half
    matched["outside_interval"] = [
        bool(o) if pd.notna(c) and pd.notna(w) else None
        for o, c, w in zip(outside, centre, half, strict=True)
    ]
    return matched[columns].reset_index(drop=True)
