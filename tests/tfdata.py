"""Tiny synthetic OD API TFRecords for tests: one coloured square per image."""

# A spec small enough to build and train in seconds on a CPU; format with size, train, steps.
TINY_SPEC = """\
model:
  architecture: ssd_mobilenet_v2_fpnlite
  image_size: {size}
  depth_multiplier: 0.25
  fpn_depth: 16
  predictor_depth: 16
  predictor_layers: 1
data:
  classes: [square, circle]
  train: {train}
  eval: {train}
train:
  batch_size: 2
  steps: {steps}
  learning_rate: 0.01
  augmentations: [random_horizontal_flip]
eval:
  num_examples: 4
"""

# Any architecture at a tiny size; MODEL: extra model keys, two-space indented lines.
FAMILY_SPEC = """\
model:
  architecture: {architecture}
  image_size: {size}
{model}data:
  classes: [square, circle]
  train: {train}
  eval: {train}
train:
  batch_size: 2
  steps: {steps}
  learning_rate: 0.001
  augmentations: [random_horizontal_flip]
eval:
  num_examples: 2
"""

import io

import numpy as np
from PIL import Image


def write_shapes_tfrecord(path, count=4, size=64, seed=0, masks=False):
    """MASKS: each square's instance mask too, a PNG of 0 and 1 (as convert --masks writes)."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)

    def feature(values, kind):
        if kind == "bytes":
            return tf.train.Feature(bytes_list=tf.train.BytesList(value=values))
        if kind == "float":
            return tf.train.Feature(float_list=tf.train.FloatList(value=values))
        return tf.train.Feature(int64_list=tf.train.Int64List(value=values))

    with tf.io.TFRecordWriter(str(path)) as writer:
        for index in range(count):
            image = rng.integers(0, 80, (size, size, 3), dtype=np.uint8)
            side = int(rng.integers(size // 4, size // 2))
            x0, y0 = (int(v) for v in rng.integers(0, size - side, 2))
            image[y0:y0 + side, x0:x0 + side] = (220, 30, 30)
            jpeg = io.BytesIO()
            Image.fromarray(image).save(jpeg, "JPEG")
            extra = {}
            if masks:
                mask = np.zeros((size, size), np.uint8)
                mask[y0:y0 + side, x0:x0 + side] = 1
                png = io.BytesIO()
                Image.fromarray(mask).save(png, "PNG")
                extra["image/object/mask"] = feature([png.getvalue()], "bytes")
            example = tf.train.Example(features=tf.train.Features(feature={
                "image/encoded": feature([jpeg.getvalue()], "bytes"),
                "image/format": feature([b"jpeg"], "bytes"),
                "image/height": feature([size], "int"),
                "image/width": feature([size], "int"),
                "image/source_id": feature([str(index).encode()], "bytes"),
                "image/object/bbox/xmin": feature([x0 / size], "float"),
                "image/object/bbox/xmax": feature([(x0 + side) / size], "float"),
                "image/object/bbox/ymin": feature([y0 / size], "float"),
                "image/object/bbox/ymax": feature([(y0 + side) / size], "float"),
                "image/object/class/text": feature([b"square"], "bytes"),
                "image/object/class/label": feature([1], "int"),
                **extra,
            }))
            writer.write(example.SerializeToString())
    return path


def write_tiny_spec(folder, count=4, size=64, steps=3, architecture="ssd_mobilenet_v2_fpnlite"):
    """FOLDER/tiny.yaml training and evaluating on COUNT shapes images of FOLDER/train.tfrecord."""
    train = write_shapes_tfrecord(folder / "train.tfrecord", count=count, size=size)
    spec = folder / "tiny.yaml"
    text = TINY_SPEC.format(size=size, train=train, steps=steps)
    spec.write_text(text.replace("ssd_mobilenet_v2_fpnlite", architecture))
    return spec


def write_family_spec(folder, architecture, size, model="", steps=1, train="train.tfrecord"):
    """FOLDER/tiny.yaml of FAMILY_SPEC."""
    spec = folder / "tiny.yaml"
    spec.write_text(FAMILY_SPEC.format(architecture=architecture, size=size, model=model,
                                       steps=steps, train=train))
    return spec
