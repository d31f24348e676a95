"""odwrap: the TensorFlow 2 Object Detection API, end to end, from small YAML specs."""

__version__ = "0.1.0"
