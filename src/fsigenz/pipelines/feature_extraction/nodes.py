"""Node of the feature-extraction pipeline: parameters in, feature file written, summary out."""

from __future__ import annotations

REQUIRED_PARAMS = ("layout", "image_root", "output_dir", "output_name", "model_name")
OPTIONAL_PARAMS = (
    "image_list",
    "res101_file",
    "att_splits_file",
    "pretrained",
    "checkpoint_file",
    "weights_cache_dir",
    "device",
    "batch_size",
    "num_workers",
    "chunk_size",
    "skip_unreadable",
    "write_generic",
    "progress",
)
EXTRACTION_OPTIONS = (
    "batch_size",
    "num_workers",
    "chunk_size",
    "skip_unreadable",
    "write_generic",
    "progress",
)


def _check_params(params: dict) -> dict:
    where = "parameters 'feature_extraction'"
    if not isinstance(params, dict):
        raise ValueError(f"{where}: expected a mapping, got {type(params).__name__}")
    unknown = sorted(set(params) - set(REQUIRED_PARAMS) - set(OPTIONAL_PARAMS))
    if unknown:
        expected = sorted(REQUIRED_PARAMS + OPTIONAL_PARAMS)
        raise ValueError(f"{where}: unknown key(s) {unknown}; expected some of {expected}")
    absent = [key for key in REQUIRED_PARAMS if key not in params]
    if absent:
        raise ValueError(f"{where}: missing key(s) {absent}")
    if params.get("res101_file") and not params.get("att_splits_file"):
        raise ValueError(f"{where}: res101_file is set, so att_splits_file (its class order) is needed too")
    return params


def extract_image_features(params: dict) -> dict:
    """Embed one dataset's images with a timm backbone; return a summary of what was written.

    Writes ``<output_dir>/<output_name>.npz`` (``features``, 1-based ``labels``, ``class_names``,
    ``image_files``), in the row order of ``res101_file`` when one is given, and the skipped list beside it.
    """
    # imported here so that loading the pipeline registry does not import timm
    from fsigenz.features import BackboneSpec, extract_features, order_like_res101, read_image_list

    params = _check_params(params)
    images = read_image_list(params["layout"], params["image_root"], params.get("image_list"))
    if params.get("res101_file"):
        images = order_like_res101(images, params["res101_file"], params["att_splits_file"])
    backbone = BackboneSpec(
        model_name=params["model_name"],
        pretrained=params.get("pretrained", True),
        checkpoint_file=params.get("checkpoint_file"),
        device=params.get("device", "auto"),
        cache_dir=params.get("weights_cache_dir"),
    )
    options = {key: params[key] for key in EXTRACTION_OPTIONS if key in params}
    result = extract_features(images, backbone, params["output_dir"], params["output_name"], **options)
    return {
        **result.summary(),
        "layout": params["layout"],
        "ordered_like_res101": bool(params.get("res101_file")),
        "backbone": backbone.identity(),
    }
