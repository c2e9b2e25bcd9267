"""The logged MLflow model on image paths, end to end: images → feature_extraction → ``training_custom``
→ pyfunc model that embeds ``image_path`` rows with the extraction's backbone.

A scratch project gets a small ``custom`` dataset of generated images, embedded by the
feature-extraction node with a tiny ViT whose weights are a local checkpoint (offline); one
``kedro run --pipelines=training_custom`` logs the model. Scoring the images by path must give what
scoring their extracted feature rows gives.
"""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from fsigenz.pipelines.feature_extraction.nodes import extract_image_features
from fsigenz.serving import feature_table
from tests.features.images import TINY_MODEL, save_checkpoint, save_image
from tests.kedro_project import kedro, make_project
from tests.pipelines.test_kedro_runs import tiny_params

pytestmark = pytest.mark.slow

SEEN, UNSEEN = ("ant", "bee", "cod", "dog", "eel", "fox"), ("gnu", "yak")
IMAGES_PER_CLASS = 5
ATTRIBUTES = 6


def _split(name: str, index: int) -> str:
    if name in UNSEEN:
        return "test_unseen"
    return "test_seen" if index == 0 else "trainval"


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The scratch project after extraction + ``training_custom``, and the logged model's identity."""
    import mlflow

    project = make_project(tmp_path_factory.mktemp("image_serving_project"))
    raw = project / "data/01_raw/custom"
    rng = np.random.default_rng(3)
    rows = []
    for name in SEEN + UNSEEN:
        for index in range(IMAGES_PER_CLASS):
            relative = f"{name}/{index}.{'png' if index % 2 else 'jpg'}"
            save_image(raw / "images" / relative, rng, index)
            rows.append(f"{relative},{name},{_split(name, index)}\n")
    (raw / "image_list.csv").write_text("path,class,split\n" + "".join(rows))
    attributes = pd.DataFrame(
        rng.random((len(SEEN + UNSEEN), ATTRIBUTES)), columns=[f"a{i}" for i in range(ATTRIBUTES)]
    )
    attributes.insert(0, "class", SEEN + UNSEEN)
    attributes.to_csv(raw / "class_attributes.csv", index=False)
    checkpoint = save_checkpoint(tmp_path_factory.mktemp("weights") / "vit_tiny.pth", seed=11)

    # the custom namespace's feature_extraction block, with the tiny model and its local weights
    extract_image_features(
        {
            "layout": "csv",
            "image_root": str(raw / "images"),
            "image_list": str(raw / "image_list.csv"),
            "output_dir": str(raw),
            "output_name": "vit_tiny_features",
            "model_name": TINY_MODEL,
            "pretrained": True,
            "checkpoint_file": str(checkpoint),
            "device": "cpu",
            "batch_size": 8,
            "num_workers": 0,
            "write_generic": True,
            "progress": False,
        }
    )
    result = kedro(project, "run", "--pipelines=training_custom", f"--params={tiny_params('custom')}")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("fsigenz")
    (logged,) = client.search_logged_models(experiment_ids=[experiment.experiment_id])
    return project, logged


@pytest.fixture(scope="module")
def pyfunc_model(trained):
    import mlflow

    return mlflow.pyfunc.load_model(trained[1].artifact_location)


@pytest.fixture(scope="module")
def extracted(trained):
    """The training features (generic format) and the absolute path of each row's image."""
    raw = trained[0] / "data/01_raw/custom"
    images = pd.read_csv(raw / "images.csv")
    paths = [str(raw / "images" / path) for path in images["path"]]
    return np.load(raw / "features.npy"), paths


def test_model_carries_the_extraction_backbone(trained):
    project, logged = trained
    with open(project / "data/06_models/custom/image_backbone.pkl", "rb") as file:
        packaged = pickle.load(file)
    assert packaged.available and packaged.snapshot.model_name == TINY_MODEL
    assert packaged.snapshot.identity["weights"] == "file"
    assert not any(
        key.startswith("head.") for key in packaged.snapshot.state_dict
    )  # built with num_classes=0
    artifacts = {p.name for p in (project / "mlartifacts").rglob("*") if p.is_file()}
    assert "image_backbone.pkl" in artifacts


def test_image_paths_are_scored_like_their_extracted_features(pyfunc_model, extracted):
    features, paths = extracted
    by_path = pyfunc_model.predict(pd.DataFrame({"image_path": paths}), params={"inference.top_k": 3})
    by_features = pyfunc_model.predict(feature_table(features), params={"inference.top_k": 3})
    assert len(by_path) == len(paths)
    assert by_path["predicted_class"].tolist() == by_features["predicted_class"].tolist()
    np.testing.assert_allclose(by_path["score"], by_features["score"], rtol=1e-4, atol=1e-5)
    assert by_path["top_k_classes"].tolist() == by_features["top_k_classes"].tolist()
    np.testing.assert_allclose(
        np.stack(by_path["top_k_scores"]), np.stack(by_features["top_k_scores"]), rtol=1e-4, atol=1e-5
    )


def test_unreadable_image_and_mixed_table_are_refused(pyfunc_model, extracted, tmp_path):
    features, paths = extracted
    gone = str(tmp_path / "gone.jpg")
    with pytest.raises(Exception, match=rf"column 'image_path'.*row 1: '{gone}' \(missing\)"):
        pyfunc_model.predict(pd.DataFrame({"image_path": [paths[0], gone]}))
    mixed = feature_table(features[:2]).assign(image_path=paths[:2])
    with pytest.raises(Exception, match=r"column 'image_path' must come alone \(one input form per table\)"):
        pyfunc_model.predict(mixed)


def test_examples_given_by_image_path_fold_in_like_their_features(pyfunc_model, extracted):
    features, paths = extracted
    by_path = pd.DataFrame({"class": ["newcomer", "newcomer"], "image_path": paths[:2]}).to_csv(index=False)
    by_features = feature_table(features[:2])
    by_features.insert(0, "class", "newcomer")
    params = {"inference.top_k": 3}
    with_paths = pyfunc_model.predict(
        feature_table(features), params={**params, "inference.examples": by_path}
    )
    with_features = pyfunc_model.predict(
        feature_table(features), params={**params, "inference.examples": by_features.to_csv(index=False)}
    )
    assert with_paths["top_k_classes"].tolist() == with_features["top_k_classes"].tolist()
    np.testing.assert_allclose(
        np.stack(with_paths["top_k_scores"]), np.stack(with_features["top_k_scores"]), rtol=1e-4, atol=1e-4
    )
