"""Image rows of the served model, at library level: the backbone packaged from the extraction's record,
the input table's two forms, and every refusal (offline: a tiny ViT from a local checkpoint)."""

from __future__ import annotations

import copy
import json
import pickle
import shutil

import numpy as np
import pandas as pd
import pytest

from fsigenz.data.dataset import DataValidationError
from fsigenz.features import BackboneWeightsError
from fsigenz.pipelines.feature_extraction.nodes import extract_image_features
from fsigenz.serving import (
    IMAGE_PATH_COLUMN,
    ImageBackbone,
    NoImageBackboneError,
    feature_table,
    features_for_scoring,
)
from tests.features.images import TINY_MODEL, save_checkpoint, save_image

CLASSES = ("owl", "elk")
IMAGES_PER_CLASS = 3
FEATURE_DIM = 192  # vit_tiny


@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> dict:
    """Six images embedded by the feature-extraction node (generic format) with local checkpoint weights."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(5)
    rows = []
    for name in CLASSES:
        for index in range(IMAGES_PER_CLASS):
            save_image(root / name / f"{index}.png", rng, index)
            rows.append(f"{name}/{index}.png,{name},trainval\n")
    (root / "list.csv").write_text("path,class,split\n" + "".join(rows))
    checkpoint = save_checkpoint(tmp_path_factory.mktemp("weights") / "vit_tiny.pth", seed=2)
    out = tmp_path_factory.mktemp("features")
    extract_image_features(
        {
            "layout": "csv",
            "image_root": str(root),
            "image_list": str(root / "list.csv"),
            "output_dir": str(out),
            "output_name": "tiny",
            "model_name": TINY_MODEL,
            "pretrained": True,
            "checkpoint_file": str(checkpoint),
            "device": "cpu",
            "num_workers": 0,
            "write_generic": True,
            "progress": False,
        }
    )
    paths = [str(root / line.split(",")[0]) for line in rows]
    return {
        "root": root,
        "out": out,
        "checkpoint": checkpoint,
        "paths": paths,
        "features": np.load(out / "features.npy"),
    }


@pytest.fixture(scope="module")
def packaged(extracted) -> ImageBackbone:
    """The backbone as the training run packages it, after a pickle round trip (as the catalog stores it)."""
    backbone = ImageBackbone.for_source({"type": "generic", "directory": str(extracted["out"])}, batch_size=4)
    return pickle.loads(pickle.dumps(backbone))


def image_table(paths) -> pd.DataFrame:
    return pd.DataFrame({IMAGE_PATH_COLUMN: list(paths)})


def test_image_rows_get_the_features_the_extraction_wrote(extracted, packaged):
    assert packaged.available and packaged.snapshot.identity["weights"] == "file"
    features = features_for_scoring(image_table(extracted["paths"]), FEATURE_DIM, packaged)
    np.testing.assert_allclose(features, extracted["features"], rtol=1e-4, atol=1e-5)
    # feature rows are read as before
    rows = feature_table(extracted["features"])
    np.testing.assert_array_equal(features_for_scoring(rows, FEATURE_DIM, packaged), extracted["features"])


def test_copies_share_the_built_backbone_and_pickles_leave_it_out(packaged, extracted):
    packaged.embed(extracted["paths"][:1])
    assert copy.deepcopy(packaged) is packaged  # the served model deep-copies its inputs per request
    assert pickle.loads(pickle.dumps(packaged))._built is None


def test_no_backbone_without_the_extractions_record_and_why(extracted, tmp_path):
    generic = {"type": "generic", "directory": str(extracted["out"])}
    reasons = {
        "synthetic": ImageBackbone.for_source({"type": "synthetic", "seed": 0}),
        "res101": ImageBackbone.for_source({"type": "xlsa17", "directory": str(tmp_path)}),
        "left out": ImageBackbone.for_source(generic, include=False),
    }
    assert not any(backbone.available for backbone in reasons.values())
    assert "'synthetic' source, which reads no feature file" in reasons["synthetic"].reason_absent
    assert (
        f"{tmp_path / 'res101.mat'}) were not made by this project's feature_extraction pipeline (no "
        "backbone record res101.backbone.json" in reasons["res101"].reason_absent
    )
    assert "image_backbone.include: false" in reasons["left out"].reason_absent

    changed = tmp_path / "changed"
    shutil.copytree(extracted["out"], changed)
    np.save(changed / "features.npy", extracted["features"] * 2)
    stale = ImageBackbone.for_source({"type": "generic", "directory": str(changed)})
    assert (
        not stale.available
        and "changed after feature_extraction wrote features.backbone.json" in stale.reason_absent
    )
    with pytest.raises(NoImageBackboneError, match="no image backbone: its training features"):
        stale.embed(extracted["paths"][:1])


def test_weights_changed_since_extraction_stop_the_packaging(extracted, tmp_path):
    moved = tmp_path / "features"
    shutil.copytree(extracted["out"], moved)
    checkpoint = shutil.copy(extracted["checkpoint"], tmp_path / "weights.pth")
    record_file = moved / "features.backbone.json"
    record = json.loads(record_file.read_text())
    record["backbone"]["file"] = str(checkpoint)
    record_file.write_text(json.dumps(record))
    source = {"type": "generic", "directory": str(moved)}
    assert ImageBackbone.for_source(source).available  # same weights elsewhere: fine

    with open(checkpoint, "ab") as file:
        file.write(b"\0")
    with pytest.raises(
        BackboneWeightsError,
        match=r"features\.backbone\.json: field 'backbone': cannot load the "
        r"backbone .* checkpoint file changed.*image_backbone\.include: false",
    ):
        ImageBackbone.for_source(source)
    (tmp_path / "weights.pth").unlink()
    with pytest.raises(
        BackboneWeightsError, match=r"checkpoint_file: expected a weight file at .*weights\.pth"
    ):
        ImageBackbone.for_source(source)


def test_tables_with_both_forms_neither_or_unreadable_paths_are_refused(extracted, packaged, tmp_path):
    paths, features = extracted["paths"], extracted["features"]
    mixed = feature_table(features[:2]).assign(**{IMAGE_PATH_COLUMN: paths[:2]})
    with pytest.raises(
        DataValidationError,
        match=r"request: column 'image_path' must come alone \(one input form per "
        r"table\), but the table also has 'feature_0', 'feature_1', "
        r"'feature_2', … \(192 in all\). Send feature rows and image rows",
    ):
        features_for_scoring(mixed, FEATURE_DIM, packaged, "request")
    padded = feature_table(features[:2]).assign(**{IMAGE_PATH_COLUMN: None})  # an empty image_path column too
    with pytest.raises(DataValidationError, match=r"column 'image_path' must come alone"):
        features_for_scoring(padded, FEATURE_DIM, packaged, "request")
    with pytest.raises(
        DataValidationError,
        match=r"request: expected exactly the model's 192 feature columns "
        r"feature_0 … feature_191, or one column 'features' .*unexpected "
        r"column\(s\) 'pixel'; missing 'feature_0'",
    ):
        features_for_scoring(pd.DataFrame({"pixel": [1.0]}), FEATURE_DIM, packaged, "request")

    gone, folder = str(tmp_path / "gone.jpg"), str(tmp_path)
    with pytest.raises(
        DataValidationError,
        match=rf"request: column 'image_path': expected image files the server "
        rf"can read; 2 cannot be read: row 1: '{gone}' \(missing\); "
        rf"row 2: '{folder}' \(not a file\)",
    ):
        features_for_scoring(image_table([paths[0], gone, folder]), FEATURE_DIM, packaged, "request")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    with pytest.raises(DataValidationError, match=rf"row 0: '{broken}' \(UnidentifiedImageError: "):
        features_for_scoring(image_table([str(broken)]), FEATURE_DIM, packaged, "request")
    with pytest.raises(
        DataValidationError,
        match=r"column 'image_path', row 1: expected the path of an image file "
        r"the server can read, got ''",
    ):
        features_for_scoring(image_table([paths[0], ""]), FEATURE_DIM, packaged, "request")

    without = ImageBackbone(None, "its training features come from the 'synthetic' source")
    with pytest.raises(
        DataValidationError,
        match=r"column 'image_path': this model cannot read images, it has no "
        r"image backbone: its training features come from the 'synthetic'",
    ):
        features_for_scoring(image_table(paths[:1]), FEATURE_DIM, without, "request")
    with pytest.raises(
        DataValidationError,
        match=r"the model's image backbone gives 192 features per image, but "
        r"the classifier scores 64",
    ):
        features_for_scoring(image_table(paths[:1]), 64, packaged, "request")
