"""Image features: backbone (timm) features for a folder of images, in the project's feature format.

- :mod:`~fsigenz.features.image_lists`: dataset layouts (CUB, AwA2, SUN, class folders, CSV) → an
  :class:`ImageList`, and the xlsa17 ``res101.mat`` row order;
- :mod:`~fsigenz.features.backbone`: the timm model, its preprocessing and where its weights come from;
- :mod:`~fsigenz.features.extraction`: batched, chunked, resumable extraction and the output files;
  embedding a few image files at once (the served model's image input);
- :mod:`~fsigenz.features.provenance`: the record, beside each feature file, of the backbone that made it.
"""

from fsigenz.features.backbone import (
    DEFAULT_MODEL,
    Backbone,
    BackboneSnapshot,
    BackboneSpec,
    BackboneWeightsError,
    create_backbone,
)
from fsigenz.features.extraction import (
    ExtractionResult,
    ImageFilesError,
    UnreadableImagesError,
    embed_image_files,
    extract_features,
)
from fsigenz.features.image_lists import (
    LAYOUTS,
    ImageList,
    ImageListError,
    order_like_res101,
    read_image_list,
)
from fsigenz.features.provenance import BackboneRecord

__all__ = [
    "DEFAULT_MODEL",
    "LAYOUTS",
    "Backbone",
    "BackboneRecord",
    "BackboneSnapshot",
    "BackboneSpec",
    "BackboneWeightsError",
    "ExtractionResult",
    "ImageFilesError",
    "ImageList",
    "ImageListError",
    "UnreadableImagesError",
    "create_backbone",
    "embed_image_files",
    "extract_features",
    "order_like_res101",
    "read_image_list",
]
