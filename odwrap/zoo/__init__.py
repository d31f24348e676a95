"""The TF2 Detection Zoo: its catalog (`catalog.py`). Nothing here imports TensorFlow."""

from odwrap.zoo.catalog import (
    FAMILIES,
    MODELS,
    ZooModel,
    find,
    for_sample_config,
    models,
)

__all__ = ["FAMILIES", "MODELS", "ZooModel", "find", "for_sample_config", "models"]
