"""Image features: backbone (timm) features for a folder of images, in the project's feature format.

- :mod:`~fsigenz.features.image_lists`: dataset layouts (CUB, AwA2, SUN, class folders, CSV) → an
  :class:`ImageList`, and the xlsa17 ``res101.mat`` row order;
- :mod:`~fsigenz.features.backbone`: the timm model, its preprocessing and where its weights come from;
- :mod:`~fsigenz.features.extraction`: batched, chunked, resumable extraction and the output files.
"""

from fsigenz.features.backbone import (
    DEFAULT_MODEL,
    Backbone,
    BackboneSpec,
    BackboneWeightsError,
    create_backbone,
)
from fsigenz.features.extraction import ExtractionResult, UnreadableImagesError, extract_features
from fsigenz.features.image_lists import (
    LAYOUTS,
    ImageList,
    ImageListError,
    order_like_res101,
    read_image_list,
)

__all__ = [
    "DEFAULT_MODEL",
    "LAYOUTS",
    "Backbone",
    "BackboneSpec",
    "BackboneWeightsError",
    "ExtractionResult",
    "ImageList",
    "ImageListError",
    "UnreadableImagesError",
    "create_backbone",
    "extract_features",
    "order_like_res101",
    "read_image_list",
]
