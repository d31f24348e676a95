"""The TF2 Detection Zoo: its catalog (`catalog.py`), fetched into a local cache (`pull.py`,
`download.py`, `gcs.py`), extracted safely (`extract.py`) and verified on reuse (`cache.py`).

Importing this package loads only the catalog; nothing here imports TensorFlow, except a gs://
mirror, which is read with tf.io.gfile.
"""

from odwrap.zoo.catalog import (
    FAMILIES,
    MODELS,
    STARTS_FROM,
    ZooModel,
    checkpoint_architecture,
    find,
    for_architecture,
    for_sample_config,
    models,
)

__all__ = ["FAMILIES", "MODELS", "STARTS_FROM", "ZooModel", "checkpoint_architecture", "find",
           "for_architecture", "for_sample_config", "models"]
