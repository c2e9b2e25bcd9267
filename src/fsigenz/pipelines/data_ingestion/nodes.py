"""Nodes of the data_ingestion pipeline."""

from __future__ import annotations

import logging

from fsigenz.data.dataset import ZeroShotDataset
from fsigenz.data.sources import load_source

logger = logging.getLogger(__name__)


def load_dataset(source: dict) -> ZeroShotDataset:
    """Read and validate the source block's data set (any fault raises before anything is written)."""
    dataset = load_source(source)
    logger.info("Loaded %s", dataset.summary())
    return dataset


def summarize_dataset(dataset: ZeroShotDataset) -> dict:
    """Sizes of the data set and its splits, for the reporting layer."""
    return dataset.summary()
