"""Image lists: which images to embed, in which order, with which class.

A layout reader turns a dataset folder into an :class:`ImageList`: image paths relative to an image
root, a 0-based class index per image and the class order. One reader per layout, chosen through the
:data:`LAYOUTS` registry:

- ``cub``: CUB_200_2011 (``images.txt`` + ``image_class_labels.txt``, images under ``images/``);
- ``awa2``: Animals_with_Attributes2 (``JPEGImages/<class>/…``, class order from ``classes.txt``);
- ``sun``: SUN attributes (``images/<letter>/<class>[/<subclass>]/…``, class ``<class>_<subclass>``);
- ``folder``: any ``<root>/<class>/…`` folder (classes sorted by name);
- ``csv``: a CSV with columns ``path,class`` and an optional ``split`` column.

:func:`order_like_res101` reorders a list into the row order of xlsa17's ``res101.mat`` so that the
xlsa17 ``*_loc`` split indices apply to the extracted features.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

import numpy as np

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
SPLIT_VALUES = ("trainval", "test_seen", "test_unseen")


class ImageListError(ValueError):
    """An image list or dataset folder does not have the expected layout.

    The message names the file or folder, what was expected and what was found.
    """


@dataclass(frozen=True)
class ImageList:
    """Images to embed, in output order.

    ``paths`` are POSIX paths relative to ``root`` (absolute paths are kept as given);
    ``labels`` are 0-based indices into ``class_names``; ``splits`` holds one split name per image
    (or ``""``) when the source gives one; ``source_rows`` maps each image to its row in an external
    ordering (the xlsa17 ``res101.mat``) when the list was reordered after one.
    """

    root: Path
    paths: tuple[str, ...]
    labels: np.ndarray
    class_names: tuple[str, ...]
    splits: tuple[str, ...] | None = None
    source_rows: np.ndarray | None = None
    source: str = "<in memory>"
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))
        object.__setattr__(self, "paths", tuple(str(p) for p in self.paths))
        object.__setattr__(self, "labels", np.asarray(self.labels, dtype=np.int64).ravel())
        object.__setattr__(self, "class_names", tuple(str(c) for c in self.class_names))
        n = len(self.paths)
        if n == 0:
            raise ImageListError(f"{self.source}: no images found")
        if self.labels.shape != (n,):
            raise ImageListError(
                f"{self.source}: expected one label per image ({n}), got {self.labels.shape[0]}"
            )
        if self.labels.min() < 0 or self.labels.max() >= len(self.class_names):
            raise ImageListError(
                f"{self.source}: labels must index the {len(self.class_names)} class names, "
                f"got values in [{self.labels.min()}, {self.labels.max()}]"
            )
        if self.splits is not None and len(self.splits) != n:
            raise ImageListError(f"{self.source}: expected one split per image ({n})")

    def __len__(self) -> int:
        return len(self.paths)

    def file(self, i: int) -> Path:
        """Absolute location of image ``i``."""
        return self.root / self.paths[i]


# ---------------------------------------------------------------------------------------- helpers
def _require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise ImageListError(f"{what}: expected a file at '{path}', found none")
    return path


def _require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise ImageListError(f"{what}: expected a folder at '{path}', found none")
    return path


def _read_id_table(path: Path) -> dict[int, str]:
    """``<id> <value>`` lines (CUB and AwA2 metadata files) → {id: value}."""
    table: dict[int, str] = {}
    for line_no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or not parts[0].isdigit():
            raise ImageListError(f"{path}: line {line_no}: expected '<id> <value>', got {line!r}")
        table[int(parts[0])] = parts[1].strip()
    return table


def _is_image(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES


def _images_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if _is_image(p))


def _from_class_names(
    root: Path, paths: list[str], image_classes: list[str], class_names: list[str], source: str
) -> ImageList:
    index = {name: i for i, name in enumerate(class_names)}
    unknown = sorted(set(image_classes) - index.keys())
    if unknown:
        raise ImageListError(f"{source}: images of classes not in the class list: {unknown[:5]}")
    labels = np.array([index[c] for c in image_classes], dtype=np.int64)
    return ImageList(
        root=root, paths=tuple(paths), labels=labels, class_names=tuple(class_names), source=source
    )


# ---------------------------------------------------------------------------------------- readers
def read_cub(image_root: Path, image_list: Path | None = None) -> ImageList:
    """CUB_200_2011: ``images.txt`` (``<id> <class>/<file>``) and ``image_class_labels.txt``.

    Classes are ordered by their CUB numeric id; a class's name is its image folder
    (``001.Black_footed_Albatross``), which is also the name xlsa17 uses.
    """
    image_root = _require_dir(Path(image_root), "layout 'cub': image_root")
    images_txt = _require_file(Path(image_list or image_root / "images.txt"), "layout 'cub': image_list")
    labels_txt = _require_file(images_txt.parent / "image_class_labels.txt", "layout 'cub'")
    images, class_ids = _read_id_table(images_txt), _read_id_table(labels_txt)
    if images.keys() != class_ids.keys():
        raise ImageListError(
            f"{labels_txt}: expected one class per image of {images_txt} "
            f"({len(images)} images), got {len(class_ids)} entries with other ids"
        )
    ids = sorted(images)
    paths = [images[i] for i in ids]
    name_of_id: dict[int, str] = {}
    for i, path in zip(ids, paths, strict=True):
        cid, folder = int(class_ids[i]), PurePosixPath(path).parts[0]
        if name_of_id.setdefault(cid, folder) != folder:
            raise ImageListError(
                f"{labels_txt}: class {cid} holds images of folders '{name_of_id[cid]}' and '{folder}'"
            )
    class_names = [name_of_id[c] for c in sorted(name_of_id)]
    image_classes = [name_of_id[int(class_ids[i])] for i in ids]
    return _from_class_names(image_root / "images", paths, image_classes, class_names, str(images_txt))


def read_class_folders(image_root: Path, image_list: Path | None = None) -> ImageList:
    """``<root>/<class>/<image>`` folders; classes sorted by name, images sorted by path.

    ``image_list`` may name a ``classes.txt`` (``<id> <class>`` lines, AwA2 style) fixing the class order.
    """
    root = _require_dir(Path(image_root), "layout 'folder': image_root")
    class_dirs = sorted(d.name for d in root.iterdir() if d.is_dir() and not d.name.startswith("."))
    class_names = class_dirs
    if image_list is not None:
        table = _read_id_table(_require_file(Path(image_list), "layout 'folder': image_list"))
        class_names = [table[i] for i in sorted(table)]
    paths, image_classes = [], []
    for name in class_dirs:
        for file in _images_under(root / name):
            paths.append(file.relative_to(root).as_posix())
            image_classes.append(name)
    if not paths:
        raise ImageListError(f"{root}: expected images in <class>/ sub-folders, found none")
    return _from_class_names(root, paths, image_classes, class_names, str(root))


def read_awa2(image_root: Path, image_list: Path | None = None) -> ImageList:
    """Animals_with_Attributes2: ``JPEGImages/<class>/…``; class order from ``classes.txt`` if present."""
    root = _require_dir(Path(image_root), "layout 'awa2': image_root")
    jpeg_dir = _require_dir(root / "JPEGImages", "layout 'awa2'")
    classes_txt = Path(image_list) if image_list is not None else root / "classes.txt"
    return read_class_folders(jpeg_dir, classes_txt if classes_txt.is_file() else None)


def read_sun(image_root: Path, image_list: Path | None = None) -> ImageList:
    """SUN attributes: ``images/<letter>/<class>[/<subclass>]/<file>``; classes sorted by name.

    The class name joins the folders below the letter with ``_`` (``a/apse/indoor`` → ``apse_indoor``),
    as xlsa17's ``allclasses_names`` do.
    """
    root = _require_dir(Path(image_root), "layout 'sun': image_root")
    images_dir = _require_dir(root / "images", "layout 'sun'")
    paths, image_classes = [], []
    for file in _images_under(images_dir):
        rel = file.relative_to(images_dir)
        if len(rel.parts) < 3:
            raise ImageListError(
                f"layout 'sun': expected images/<letter>/<class>/<file>, got 'images/{rel.as_posix()}'"
            )
        paths.append(rel.as_posix())
        image_classes.append("_".join(rel.parts[1:-1]))
    if not paths:
        raise ImageListError(f"{images_dir}: expected images under <letter>/<class>/, found none")
    return _from_class_names(images_dir, paths, image_classes, sorted(set(image_classes)), str(images_dir))


def read_csv_list(image_root: Path | None, image_list: Path | None) -> ImageList:
    """A CSV with columns ``path,class`` and optionally ``split`` (trainval / test_seen / test_unseen).

    Relative paths are resolved against ``image_root`` (default: the CSV's folder); classes are
    numbered in order of first appearance.
    """
    if image_list is None:
        raise ImageListError("layout 'csv': image_list: expected the path of a 'path,class' CSV, got none")
    csv_path = _require_file(Path(image_list), "layout 'csv': image_list")
    root = Path(image_root) if image_root is not None else csv_path.parent
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        if "path" not in columns or "class" not in columns:
            raise ImageListError(f"{csv_path}: expected columns 'path,class[,split]', got {columns}")
        rows = list(reader)
    has_split = "split" in columns
    paths, image_classes, splits = [], [], []
    for line_no, row in enumerate(rows, start=2):
        path, cls = (row["path"] or "").strip(), (row["class"] or "").strip()
        if not path or not cls:
            raise ImageListError(f"{csv_path}: line {line_no}: empty 'path' or 'class'")
        split = (row.get("split") or "").strip() if has_split else ""
        if split and split not in SPLIT_VALUES:
            raise ImageListError(
                f"{csv_path}: line {line_no}: column 'split': expected one of {SPLIT_VALUES} or empty, "
                f"got {split!r}"
            )
        paths.append(path)
        image_classes.append(cls)
        splits.append(split)
    class_names = list(dict.fromkeys(image_classes))
    images = _from_class_names(root, paths, image_classes, class_names, str(csv_path))
    return replace(images, splits=tuple(splits) if has_split else None)


LayoutReader = Callable[[Path | None, Path | None], ImageList]
LAYOUTS: dict[str, LayoutReader] = {
    "cub": read_cub,
    "awa2": read_awa2,
    "sun": read_sun,
    "folder": read_class_folders,
    "csv": read_csv_list,
}


def read_image_list(
    layout: str, image_root: str | Path | None, image_list: str | Path | None = None
) -> ImageList:
    """Read the images of ``image_root`` laid out as ``layout`` (a key of :data:`LAYOUTS`)."""
    if layout not in LAYOUTS:
        raise ImageListError(f"layout: expected one of {sorted(LAYOUTS)}, got {layout!r}")
    if image_root is None and layout != "csv":
        raise ImageListError(f"layout '{layout}': image_root: expected the dataset folder, got none")
    return LAYOUTS[layout](
        Path(image_root) if image_root is not None else None,
        Path(image_list) if image_list is not None else None,
    )


# ---------------------------------------------------------------------------------------- xlsa17 order
def _mat_strings(values: np.ndarray) -> list[str]:
    """A MATLAB cell of strings as loaded by scipy ((N, 1) object array of 1-element arrays)."""
    return [str(np.asarray(v).ravel()[0]) if np.asarray(v).size else "" for v in np.asarray(values).ravel()]


def _path_parts(path: str) -> tuple[str, ...]:
    return tuple(p for p in path.replace("\\", "/").split("/") if p)


def order_like_res101(images: ImageList, res101_file: str | Path, att_splits_file: str | Path) -> ImageList:
    """Reorder ``images`` into the rows of xlsa17's ``res101.mat``, with its labels and class order.

    A ``res101.mat`` row (``image_files``: the xlsa17 authors' absolute path) matches the local image
    whose relative path is a suffix of it: ``…/CUB_200_2011/images/001.Black_footed_Albatross/x.jpg``
    ↔ ``001.Black_footed_Albatross/x.jpg``. Labels are res101's (1-based into ``allclasses_names``
    of ``att_splits.mat``). A row without a local image keeps its place with the res101 path, so that it
    is reported as missing. ``source_rows`` of the result are the res101 rows (0-based).
    """
    from scipy.io import loadmat  # only this path needs scipy

    res101_file, att_splits_file = Path(res101_file), Path(att_splits_file)
    res101 = loadmat(_require_file(res101_file, "res101_file"), variable_names=["image_files", "labels"])
    att = loadmat(_require_file(att_splits_file, "att_splits_file"), variable_names=["allclasses_names"])
    for source, mat, key in (
        (res101_file, res101, "image_files"),
        (res101_file, res101, "labels"),
        (att_splits_file, att, "allclasses_names"),
    ):
        if key not in mat:
            raise ImageListError(f"{source}: field '{key}': expected it in the .mat file, found none")
    res_paths = _mat_strings(res101["image_files"])
    res_labels = np.asarray(res101["labels"]).astype(np.int64).ravel()
    class_names = _mat_strings(att["allclasses_names"])
    if res_labels.shape[0] != len(res_paths):
        raise ImageListError(
            f"{res101_file}: field 'labels': expected one label per image_files row ({len(res_paths)}), "
            f"got {res_labels.shape[0]}"
        )
    if res_labels.min() < 1 or res_labels.max() > len(class_names):
        raise ImageListError(
            f"{res101_file}: field 'labels': expected 1-based indices into the {len(class_names)} "
            f"allclasses_names of {att_splits_file}, got values in [{res_labels.min()}, {res_labels.max()}]"
        )

    local = {_path_parts(p): i for i, p in enumerate(images.paths)}
    depths = sorted({len(k) for k in local}, reverse=True)
    paths: list[str] = []
    used: dict[int, int] = {}
    for row, res_path in enumerate(res_paths):
        parts = _path_parts(res_path)
        match = next((local[parts[-d:]] for d in depths if len(parts) >= d and parts[-d:] in local), None)
        if match is None:
            paths.append("/".join(parts[-depths[-1] :]))  # not on disk: reported as missing
            continue
        if match in used:
            raise ImageListError(
                f"{res101_file}: rows {used[match] + 1} and {row + 1} both match '{images.paths[match]}'"
            )
        used[match] = row
        paths.append(images.paths[match])
    return ImageList(
        root=images.root,
        paths=tuple(paths),
        labels=res_labels - 1,
        class_names=tuple(class_names),
        source_rows=np.arange(len(res_paths), dtype=np.int64),
        source=str(res101_file),
        metadata={"n_unmatched": len(res_paths) - len(used), "n_local_unused": len(images) - len(used)},
    )
