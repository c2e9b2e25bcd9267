"""Feature extraction on images made by the tests: vit_tiny at random init, everything offline."""

from __future__ import annotations

import csv
import io
import pickle
import shutil
import socket
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from fsigenz.features import (
    BackboneRecord,
    BackboneSnapshot,
    BackboneSpec,
    BackboneWeightsError,
    ImageFilesError,
    ImageListError,
    UnreadableImagesError,
    create_backbone,
    embed_image_files,
    extract_features,
    read_image_list,
)
from fsigenz.pipelines.feature_extraction.nodes import extract_image_features
from fsigenz.pipelines.feature_extraction.pipeline import create_pipeline
from tests.features.images import TINY_MODEL, save_image

CLASSES = ("cat", "dog", "emu")
IMAGES_PER_CLASS = 4


def _write_csv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text("path,class,split\n" + "".join(f"{p},{c},{s}\n" for p, c, s in rows))
    return path


@pytest.fixture(scope="session")
def image_set(tmp_path_factory) -> dict:
    """``root/<class>/<i>.{jpg,png}`` (12 images), a corrupt JPEG, and CSV lists over them."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    rows = []
    for name in CLASSES:
        for i in range(IMAGES_PER_CLASS):
            rel = f"{name}/{i}.{'png' if i % 2 else 'jpg'}"
            save_image(root / rel, rng, i)
            rows.append(
                (rel, name, "test_unseen" if name == "emu" else ("test_seen" if i == 0 else "trainval"))
            )
    # a JPEG cut in half: opens, then fails to decode
    buffer = io.BytesIO()
    Image.fromarray((rng.random((64, 64, 3)) * 255).astype(np.uint8)).save(buffer, format="JPEG")
    (root / "emu" / "broken.jpg").write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    lists = tmp_path_factory.mktemp("lists")
    return {
        "root": root,
        "rows": rows,
        "clean_csv": _write_csv(lists / "clean.csv", rows),
        "small_csv": _write_csv(lists / "small.csv", rows[:4]),
        "corrupt_csv": _write_csv(
            lists / "corrupt.csv", rows[:9] + [("emu/broken.jpg", "emu", "test_unseen")] + rows[9:]
        ),
        "missing_csv": _write_csv(lists / "missing.csv", rows + [("dog/gone.jpg", "dog", "trainval")]),
        "no_split_csv": _write_csv(lists / "no_split.csv", [(p, c, "") for p, c, _ in rows]),
    }


@pytest.fixture()
def params(image_set, tmp_path) -> dict:
    """Node parameters over the clean CSV, tiny random-init model, small batches, no workers."""
    return {
        "layout": "csv",
        "image_root": str(image_set["root"]),
        "image_list": str(image_set["clean_csv"]),
        "output_dir": str(tmp_path / "out"),
        "output_name": "tiny_features",
        "model_name": TINY_MODEL,
        "pretrained": False,
        "checkpoint_file": None,
        "device": "cpu",
        "batch_size": 4,
        "num_workers": 0,
        "chunk_size": 8,
        "skip_unreadable": False,
        "write_generic": True,
        "progress": False,
    }


N_IMAGES = len(CLASSES) * IMAGES_PER_CLASS


def _load(path: str | Path) -> dict:
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


@pytest.fixture(scope="module")
def reference(image_set, tmp_path_factory) -> dict:
    """One uninterrupted extraction of the clean list, shared by the comparisons below."""
    out = tmp_path_factory.mktemp("reference")
    params = {
        "layout": "csv",
        "image_root": str(image_set["root"]),
        "image_list": str(image_set["clean_csv"]),
        "output_dir": str(out),
        "output_name": "tiny_features",
        "model_name": TINY_MODEL,
        "pretrained": False,
        "device": "cpu",
        "batch_size": 4,
        "num_workers": 0,
        "chunk_size": 8,
        "write_generic": True,
        "progress": False,
    }
    summary = extract_image_features(params)
    return {"summary": summary, "out": out, **_load(summary["output_file"])}


# ------------------------------------------------------------------ output contract
def test_node_writes_features_labels_and_paths_in_list_order(reference, image_set):
    rows = image_set["rows"]
    assert reference["features"].shape == (N_IMAGES, 192)
    assert reference["features"].dtype == np.float32
    assert np.isfinite(reference["features"]).all()
    assert list(reference["class_names"]) == list(CLASSES)  # first appearance in the CSV
    assert list(reference["image_files"]) == [p for p, _, _ in rows]
    expected_labels = [CLASSES.index(c) + 1 for _, c, _ in rows]  # 1-based
    assert reference["labels"].dtype == np.int64
    assert reference["labels"].tolist() == expected_labels
    # distinct images give distinct features
    assert np.unique(reference["features"].round(5), axis=0).shape[0] == N_IMAGES
    summary = reference["summary"]
    assert (summary["n_images"], summary["n_extracted"], summary["n_skipped"]) == (N_IMAGES, N_IMAGES, 0)
    assert summary["images_per_s"] > 0
    assert Path(summary["skipped_file"]).read_text() == ""


def test_generic_format_rows_match_feature_rows(reference, image_set):
    features = np.load(reference["out"] / "features.npy")
    np.testing.assert_array_equal(features, reference["features"])
    with (reference["out"] / "images.csv").open() as handle:
        table = list(csv.DictReader(handle))
    assert [(r["path"], r["label"], r["split"]) for r in table] == image_set["rows"]


def test_features_are_the_cls_token_after_the_final_norm(reference, image_set):
    backbone = create_backbone(TINY_MODEL, pretrained=False, device="cpu")
    with Image.open(image_set["root"] / image_set["rows"][0][0]) as image:
        batch = backbone.transform(image.convert("RGB"))[None]
    with torch.inference_mode():
        tokens = backbone.model.forward_features(batch)  # (1, 1 + 196, 192), final norm applied
    np.testing.assert_allclose(tokens[:, 0].numpy(), reference["features"][:1], rtol=1e-4, atol=1e-5)


def test_a_second_run_with_worker_processes_gives_identical_features(reference, params):
    summary = extract_image_features({**params, "num_workers": 2})
    np.testing.assert_array_equal(_load(summary["output_file"])["features"], reference["features"])


# ------------------------------------------------------------------ resume
class _Interrupted(RuntimeError):
    pass


class _StopsAfter(torch.nn.Module):
    """The model, interrupted at its ``calls + 1``-th forward (a killed job, seen from the chunks)."""

    def __init__(self, model: torch.nn.Module, calls: int) -> None:
        super().__init__()
        self.model, self.calls = model, calls

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.calls == 0:
            raise _Interrupted("stopped")
        self.calls -= 1
        return self.model(x)


def test_interrupted_extraction_resumes_and_a_finished_one_is_not_redone(
    reference, params, image_set, monkeypatch
):
    images = read_image_list("csv", image_set["root"], image_set["clean_csv"])
    out = Path(params["output_dir"])
    options = {"batch_size": 4, "num_workers": 0, "chunk_size": 8, "progress": False}
    backbone = create_backbone(TINY_MODEL, pretrained=False, device="cpu")
    stopping = replace(backbone, model=_StopsAfter(backbone.model, calls=2))  # chunk 0 = 2 batches of 4
    with pytest.raises(_Interrupted):
        extract_features(images, stopping, out, "tiny_features", **options)
    assert sorted(p.name for p in (out / "tiny_features.chunks").glob("chunk_*.npz")) == ["chunk_000000.npz"]
    assert not (out / "tiny_features.npz").exists()

    spec = BackboneSpec(TINY_MODEL, pretrained=False, device="cpu")
    resumed = extract_features(images, spec, out, "tiny_features", **options)
    assert (resumed.n_reused, resumed.n_extracted) == (8, N_IMAGES - 8)
    np.testing.assert_array_equal(_load(resumed.output_file)["features"], reference["features"])

    def no_build(self):
        raise AssertionError("a finished extraction must not build the model")

    monkeypatch.setattr(BackboneSpec, "build", no_build)
    finished = extract_features(images, spec, out, "tiny_features", **options)
    assert (finished.n_reused, finished.n_extracted) == (N_IMAGES, 0)
    np.testing.assert_array_equal(_load(finished.output_file)["features"], reference["features"])


def test_chunks_of_another_model_are_not_reused(params, image_set):
    small = {**params, "image_list": str(image_set["small_csv"])}
    extract_image_features(small)
    other = extract_image_features({**small, "model_name": "deit_tiny_patch16_224"})
    assert other["n_reused"] == 0 and other["n_extracted"] == 4


# ------------------------------------------------------------------ unreadable images
def test_corrupt_image_stops_by_default_and_is_skipped_and_listed_when_asked(reference, params, image_set):
    corrupt = {**params, "image_list": str(image_set["corrupt_csv"])}
    with pytest.raises(UnreadableImagesError, match=r"emu/broken\.jpg") as caught:
        extract_image_features(corrupt)
    assert [path for path, _ in caught.value.files] == ["emu/broken.jpg"]
    unreadable = Path(params["output_dir"], "tiny_features.unreadable.txt")
    assert unreadable.read_text().startswith("emu/broken.jpg\t")
    assert not Path(params["output_dir"], "tiny_features.npz").exists()

    summary = extract_image_features({**corrupt, "skip_unreadable": True})
    # only the chunk holding the corrupt file (rows 8-12) is redone
    assert (summary["n_skipped"], summary["n_reused"], summary["n_extracted"]) == (1, 8, N_IMAGES - 8)
    skipped = Path(summary["skipped_file"]).read_text().splitlines()
    assert len(skipped) == 1 and skipped[0].startswith("emu/broken.jpg\t")
    written = _load(summary["output_file"])
    assert list(written["image_files"]) == list(reference["image_files"])
    np.testing.assert_allclose(written["features"], reference["features"], rtol=1e-4, atol=1e-5)
    assert not unreadable.exists()


def test_missing_image_fails_before_any_model_is_built(params, image_set, monkeypatch):
    def no_build(self):
        raise AssertionError("missing files must be reported before the model is built")

    monkeypatch.setattr(BackboneSpec, "build", no_build)
    with pytest.raises(UnreadableImagesError, match=r"dog/gone\.jpg: missing"):
        extract_image_features({**params, "image_list": str(image_set["missing_csv"])})


# ------------------------------------------------------------------ weights
def test_checkpoint_file_route_loads_the_saved_weights(params, image_set, tmp_path):
    import timm

    torch.manual_seed(123)
    trained = timm.create_model(TINY_MODEL, pretrained=False)  # with its 1000-class head, as released
    checkpoint = tmp_path / "vit_tiny.pth"
    torch.save(trained.state_dict(), checkpoint)

    small = {**params, "image_list": str(image_set["small_csv"])}
    summary = extract_image_features({**small, "checkpoint_file": str(checkpoint), "pretrained": True})
    assert summary["backbone"]["weights"] == "file"
    loaded = _load(summary["output_file"])["features"]

    by_hand = create_backbone(TINY_MODEL, pretrained=False, device="cpu")
    weights = {k: v for k, v in trained.state_dict().items() if not k.startswith("head.")}
    by_hand.model.load_state_dict(weights)
    images = read_image_list("csv", small["image_root"], small["image_list"])
    expected = extract_features(
        images, by_hand, tmp_path / "by_hand", "f", batch_size=4, chunk_size=8, num_workers=0, progress=False
    )
    np.testing.assert_allclose(loaded, _load(expected.output_file)["features"], rtol=1e-5, atol=1e-6)


def test_checkpoint_of_another_model_is_refused(tmp_path):
    checkpoint = tmp_path / "other.pth"
    torch.save({"conv.weight": torch.zeros(3, 3)}, checkpoint)
    with pytest.raises(BackboneWeightsError, match="holds no weights"):
        create_backbone(TINY_MODEL, checkpoint_file=checkpoint, device="cpu")


def test_missing_checkpoint_file_fails_at_once(params, tmp_path):
    start = time.perf_counter()
    with pytest.raises(
        BackboneWeightsError, match=r"checkpoint_file: expected a weight file at .*absent\.pth"
    ):
        extract_image_features(
            {**params, "checkpoint_file": str(tmp_path / "absent.pth"), "pretrained": True}
        )
    assert time.perf_counter() - start < 1.0


def test_hub_weights_offline_fail_at_once_with_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    start = time.perf_counter()
    with pytest.raises(BackboneWeightsError, match="HF_HUB_OFFLINE.*checkpoint_file"):
        create_backbone(TINY_MODEL, pretrained=True, device="cpu", cache_dir=tmp_path / "empty_cache")
    assert time.perf_counter() - start < 1.0


def test_unreachable_hub_fails_at_once(monkeypatch, tmp_path):
    import huggingface_hub.constants as hub_constants

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(hub_constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub_constants, "ENDPOINT", "http://127.0.0.1:9")  # nothing listens there
    start = time.perf_counter()
    with pytest.raises(BackboneWeightsError, match="unreachable"):
        create_backbone(TINY_MODEL, pretrained=True, device="cpu", cache_dir=tmp_path / "empty_cache")
    assert time.perf_counter() - start < 1.0


def test_hub_weights_in_the_local_cache_load_offline(monkeypatch, tmp_path):
    import timm
    from safetensors.torch import save_file

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    torch.manual_seed(7)
    released = timm.create_model(TINY_MODEL, pretrained=False)
    hub_id = timm.models.get_pretrained_cfg(TINY_MODEL).hf_hub_id
    repo = tmp_path / "hub" / f"models--{hub_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0" * 40)
    snapshot = repo / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    save_file({k: v.contiguous() for k, v in released.state_dict().items()}, snapshot / "model.safetensors")

    backbone = create_backbone(TINY_MODEL, pretrained=True, device="cpu", cache_dir=tmp_path / "hub")
    assert backbone.identity["weights"] == "hub"
    torch.testing.assert_close(
        backbone.model.state_dict()["blocks.0.attn.qkv.weight"],
        released.state_dict()["blocks.0.attn.qkv.weight"],
    )


def test_random_init_never_touches_the_network(monkeypatch):
    def no_network(*args, **kwargs):
        raise AssertionError("pretrained=False must not use the network")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    backbone = create_backbone(TINY_MODEL, pretrained=False, device="cpu")
    assert backbone.feature_dim == 192 and backbone.identity["weights"] == "random"


# --------------------------------------------------------------- provenance, snapshots, a few files at once
def test_each_feature_file_gets_a_record_of_its_backbone(reference, tmp_path):
    npz, generic = reference["out"] / "tiny_features.npz", reference["out"] / "features.npy"
    assert reference["summary"]["record_files"] == [
        str(reference["out"] / "tiny_features.backbone.json"),
        str(reference["out"] / "features.backbone.json"),
    ]
    for features_file in (npz, generic):
        record = BackboneRecord.read(features_file)
        assert record.backbone == {
            "model_name": TINY_MODEL,
            "weights": "random",
            "seed": 0,
            "precision": "fp32",
        }
        assert record.describes_current_file()
        assert record.spec() == BackboneSpec(TINY_MODEL, pretrained=False, device="cpu")

    copy = tmp_path / "features.npy"
    shutil.copy(generic, copy)
    shutil.copy(reference["out"] / "features.backbone.json", tmp_path)
    np.save(copy, np.load(copy) + 1.0)  # changed after extraction: the record no longer describes it
    assert not BackboneRecord.read(copy).describes_current_file()
    assert BackboneRecord.read(tmp_path / "other.npy") is None


def test_spec_from_identity_inverts_identity(tmp_path):
    checkpoint = tmp_path / "weights.pth"
    checkpoint.write_bytes(b"0" * 10)
    for spec in (
        BackboneSpec(TINY_MODEL, pretrained=False, device="cpu"),
        BackboneSpec(TINY_MODEL, pretrained=True, device="cpu"),
        BackboneSpec(TINY_MODEL, checkpoint_file=str(checkpoint.resolve()), device="cpu"),
    ):
        assert BackboneSpec.from_identity(spec.identity(), device="cpu") == spec
    with pytest.raises(ValueError, match=r"identity: expected 'model_name' and 'weights' one of"):
        BackboneSpec.from_identity({"model_name": TINY_MODEL, "weights": "s3"})


def test_snapshot_rebuilds_the_same_feature_extractor(image_set):
    backbone = create_backbone(TINY_MODEL, pretrained=False, device="cpu")
    snapshot = pickle.loads(pickle.dumps(backbone.snapshot()))  # as it travels with a served model
    assert isinstance(snapshot, BackboneSnapshot) and not any(
        k.startswith("head.") for k in snapshot.state_dict
    )
    rebuilt = snapshot.build(device="cpu")
    assert rebuilt.data_config == backbone.data_config and rebuilt.identity == backbone.identity
    assert rebuilt.feature_dim == backbone.feature_dim == 192
    files = [image_set["root"] / path for path, _, _ in image_set["rows"][:3]]
    np.testing.assert_array_equal(embed_image_files(rebuilt, files), embed_image_files(backbone, files))


def test_embedding_files_gives_the_extracted_rows(reference, image_set):
    backbone = create_backbone(TINY_MODEL, pretrained=False, device="cpu")
    files = [image_set["root"] / path for path, _, _ in image_set["rows"]]
    features = embed_image_files(backbone, files, batch_size=5)  # other batches than the extraction's
    assert features.shape == (N_IMAGES, 192) and features.dtype == np.float32
    np.testing.assert_allclose(features, reference["features"], rtol=1e-4, atol=1e-5)


def test_embedding_files_names_missing_and_undecodable_files(image_set):
    backbone = create_backbone(TINY_MODEL, pretrained=False, device="cpu")
    root = image_set["root"]
    good = root / image_set["rows"][0][0]
    with pytest.raises(
        ImageFilesError, match=r"1 image file\(s\) cannot be read: '.*gone\.jpg' \(missing\)"
    ) as caught:
        embed_image_files(backbone, [good, root / "gone.jpg"])
    assert caught.value.files == [(1, str(root / "gone.jpg"), "missing")]
    with pytest.raises(ImageFilesError, match=r"'.*emu/broken\.jpg' \(OSError: ") as caught:
        embed_image_files(backbone, [good, good, root / "emu" / "broken.jpg"], batch_size=2)
    assert [row for row, _, _ in caught.value.files] == [2]


# ------------------------------------------------------------------ layouts and xlsa17 order
def _touch_images(root: Path, rel_paths: list[str]) -> None:
    rng = np.random.default_rng(1)
    for i, rel in enumerate(rel_paths):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray((rng.random((20 + i, 20, 3)) * 255).astype(np.uint8)).save(root / rel)


def _make_cub(tmp_path: Path) -> Path:
    cub = tmp_path / "CUB_200_2011"
    rels = [
        "001.Black_footed_Albatross/a_1.jpg",
        "001.Black_footed_Albatross/a_2.jpg",
        "002.Laysan_Albatross/b_1.jpg",
        "002.Laysan_Albatross/b_2.jpg",
        "003.Sooty_Albatross/c_1.jpg",
    ]
    _touch_images(cub / "images", rels)
    (cub / "images.txt").write_text("".join(f"{i} {p}\n" for i, p in enumerate(rels, start=1)))
    (cub / "image_class_labels.txt").write_text(
        "".join(f"{i} {p[:3].lstrip('0')}\n" for i, p in enumerate(rels, start=1))
    )
    return cub


def test_layout_readers(tmp_path):
    cub = read_image_list("cub", _make_cub(tmp_path))
    assert cub.class_names == ("001.Black_footed_Albatross", "002.Laysan_Albatross", "003.Sooty_Albatross")
    assert cub.paths[2] == "002.Laysan_Albatross/b_1.jpg" and cub.labels.tolist() == [0, 0, 1, 1, 2]
    assert cub.file(0).is_file()

    awa2 = tmp_path / "Animals_with_Attributes2"
    _touch_images(
        awa2 / "JPEGImages", ["zebra/zebra_1.jpg", "antelope/antelope_1.jpg", "antelope/antelope_2.jpg"]
    )
    (awa2 / "classes.txt").write_text("1\tzebra\n2\tantelope\n")
    awa = read_image_list("awa2", awa2)
    assert awa.class_names == ("zebra", "antelope")  # classes.txt order, not alphabetical
    assert awa.paths == ("antelope/antelope_1.jpg", "antelope/antelope_2.jpg", "zebra/zebra_1.jpg")
    assert awa.labels.tolist() == [1, 1, 0]

    sun = tmp_path / "SUN"
    _touch_images(sun / "images", ["a/abbey/sun_1.jpg", "a/apse/indoor/sun_2.jpg", "b/bakery/shop/sun_3.jpg"])
    sun_list = read_image_list("sun", sun)
    assert sun_list.class_names == ("abbey", "apse_indoor", "bakery_shop")
    assert sun_list.paths[1] == "a/apse/indoor/sun_2.jpg"

    folder = read_image_list("folder", awa2 / "JPEGImages")
    assert folder.class_names == ("antelope", "zebra")

    with pytest.raises(ImageListError, match="layout: expected one of"):
        read_image_list("imagenet", tmp_path)
    with pytest.raises(ImageListError, match=r"JPEGImages"):
        read_image_list("awa2", sun)
    bad = tmp_path / "bad.csv"
    bad.write_text("path,class,split\nx.jpg,a,validation\n")
    with pytest.raises(ImageListError, match=r"bad\.csv: line 2: column 'split'"):
        read_image_list("csv", tmp_path, bad)


def test_res101_order_labels_and_class_order(tmp_path, params):
    cub = _make_cub(tmp_path)
    prefix = "/BS/Deep_Fragments/work/MSc/CUB_200_2011/CUB_200_2011/images/"
    order = [
        "003.Sooty_Albatross/c_1.jpg",
        "001.Black_footed_Albatross/a_2.jpg",
        "002.Laysan_Albatross/b_1.jpg",
        "001.Black_footed_Albatross/a_1.jpg",
        "002.Laysan_Albatross/b_2.jpg",
    ]
    att_classes = ["002.Laysan_Albatross", "003.Sooty_Albatross", "001.Black_footed_Albatross"]  # xlsa17-like
    labels = [att_classes.index(p.split("/")[0]) + 1 for p in order]
    cell = np.empty((len(order), 1), dtype=object)
    for i, p in enumerate(order):
        cell[i, 0] = np.array([prefix + p])
    names = np.empty((3, 1), dtype=object)
    for i, n in enumerate(att_classes):
        names[i, 0] = np.array([n])
    scipy.io.savemat(
        tmp_path / "res101.mat",
        {"image_files": cell, "labels": np.array(labels)[:, None], "features": np.zeros((2048, len(order)))},
    )
    scipy.io.savemat(tmp_path / "att_splits.mat", {"allclasses_names": names})

    base = {**params, "layout": "cub", "image_root": str(cub), "image_list": None, "write_generic": False}
    in_layout_order = _load(extract_image_features(base)["output_file"])
    summary = extract_image_features(
        {
            **base,
            "output_name": "res101_order",
            "res101_file": str(tmp_path / "res101.mat"),
            "att_splits_file": str(tmp_path / "att_splits.mat"),
        }
    )
    ordered = _load(summary["output_file"])
    assert list(ordered["image_files"]) == order
    assert list(ordered["class_names"]) == att_classes
    assert ordered["labels"].tolist() == labels
    assert ordered["res101_rows"].tolist() == list(range(len(order)))
    row_of = {p: i for i, p in enumerate(in_layout_order["image_files"])}
    np.testing.assert_allclose(
        ordered["features"], in_layout_order["features"][[row_of[p] for p in order]], rtol=1e-4, atol=1e-5
    )


# ------------------------------------------------------------------ Kedro layer
def test_unknown_parameter_is_named(params):
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['batchsize'\]"):
        extract_image_features({**params, "batchsize": 8})


def test_generic_format_needs_a_split_per_image(params, image_set):
    with pytest.raises(ValueError, match=r"write_generic: .* none for 12 image\(s\)"):
        extract_image_features({**params, "image_list": str(image_set["no_split_csv"])})


def test_every_dataset_block_of_the_conf_is_accepted(monkeypatch):
    import yaml

    import fsigenz.features

    conf = Path(__file__).resolve().parents[2] / "conf" / "base" / "parameters_feature_extraction.yml"
    blocks = yaml.safe_load(conf.read_text())
    seen = []

    def stop_at_the_image_list(layout, image_root, image_list):
        seen.append(layout)
        raise _Interrupted("parameters accepted")

    monkeypatch.setattr(fsigenz.features, "read_image_list", stop_at_the_image_list)
    for namespace in ("cub", "awa2", "sun", "custom"):
        block = blocks[namespace]["feature_extraction"]
        assert block["output_dir"] == f"data/01_raw/{namespace}"
        with pytest.raises(_Interrupted):
            extract_image_features(block)
    assert seen == ["cub", "awa2", "sun", "csv"]


def test_pipeline_namespaces_its_parameters():
    from kedro.pipeline import Pipeline

    namespaced = Pipeline(create_pipeline(), namespace="cub")
    assert namespaced.inputs() == {"params:cub.feature_extraction"}
    assert namespaced.outputs() == {"cub.feature_extraction_summary"}
