"""The architectures odwrap renders, with the values of their official TF2 sample configs.

One table, ARCHITECTURES: name -> Architecture, each with one Sample per input size (the sample
config's values; a spec changes them only where it says so). The values come from
tensorflow/models research/object_detection/configs/tf2/*.config; where a zoo model has no
sample config, its family's module says which values are derived and from what.
"""

from odwrap.config.architectures.base import (OPTIONAL_MODEL_KEYS, Architecture, Hyperparams,
                                              Sample, Training, size_key)
from odwrap.config.architectures.center_net import CENTER_NET_ARCHITECTURES, CenterNetModel
from odwrap.config.architectures.faster_rcnn import (FASTER_RCNN_ARCHITECTURES, FasterRcnnModel,
                                                     MaskHead)
from odwrap.config.architectures.ssd import SSD_ARCHITECTURES, Bifpn, SsdModel

__all__ = ["ARCHITECTURES", "OPTIONAL_MODEL_KEYS", "Architecture", "Bifpn", "CenterNetModel",
           "FasterRcnnModel", "Hyperparams", "MaskHead", "Sample", "SsdModel", "Training",
           "size_key"]

ARCHITECTURES = {arch.name: arch for arch in (*SSD_ARCHITECTURES, *CENTER_NET_ARCHITECTURES,
                                               *FASTER_RCNN_ARCHITECTURES)}
