"""Source (synthetic, xlsa17, generic) → validated dataset in the catalog."""

from fsigenz.pipelines.data_ingestion.pipeline import create_pipeline

__all__ = ["create_pipeline"]
