"""One sample's tf.train.Example: its image read and checked (odwrap.data.images), its boxes
clipped to the image and scaled to it, its masks and keypoints, encoded as the OD API's
TfExampleDecoder reads them (odwrap.odapi.tfexample). Shared by convert's workers and the Beam
pipeline's.
"""

import hashlib

from odwrap.data import keypoints as keypoints_mod
from odwrap.data import segmentations
from odwrap.data.dataset import EmbeddedImage, Problems, Sample, clip_objects, inside_root
from odwrap.data.images import load_image
from odwrap.odapi.tfexample import example_parts


def encode_sample(sample: Sample, images_root, ids: dict, problems: Problems,
                  locate=inside_root, keypoints=None):
    """(The serialized tf.train.Example of one sample as tfexample.example_parts gives it, its
    boxes), or None when its image is dropped. LOCATE(images_root, image) gives what to
    read_bytes() the image from, None when the path would leave the root (a
    dataset.RootLocator for many images of one root). KEYPOINTS: the keypoints.Layout every
    record follows."""
    path = locate(images_root, sample.embedded or sample.image)
    if path is None:
        problems.add("path_escape", f"{sample.source}: {sample.embedded or sample.image}")
        return None
    if sample.embedded:
        path = EmbeddedImage(path)
    annotated = None if sample.normalized or sample.width is None else \
        (sample.width, sample.height)
    loaded = load_image(path, f"{sample.source}: {sample.image}", problems, annotated,
                        sample.exif)
    if loaded is None:
        return None
    data, kind, width, height = loaded
    if sample.normalized:
        _scale(sample.objects, width, height, width, height)
    elif sample.width is not None and (sample.width, sample.height) != (width, height):
        problems.add("size_mismatch", f"{sample.source}: annotated {sample.width}x"
                                      f"{sample.height}, image {width}x{height}")
        _scale(sample.objects, width, height, width / sample.width, height / sample.height)
    objects = [obj for obj in clip_objects(sample, width, height, problems)
               if _mask_fits(obj, sample, width, height, problems)]
    features = {
        "image/encoded": ("bytes", [data]),
        "image/format": ("bytes", [kind.encode()]),
        "image/filename": ("bytes", [sample.image.encode("utf-8")]),
        "image/source_id": ("bytes", [sample.image.encode("utf-8")]),
        "image/key/sha256": ("bytes", [hashlib.sha256(data).hexdigest().encode()]),
        "image/height": ("int", [height]),
        "image/width": ("int", [width]),
        "image/object/bbox/xmin": ("float", [o.xmin / width for o in objects]),
        "image/object/bbox/xmax": ("float", [o.xmax / width for o in objects]),
        "image/object/bbox/ymin": ("float", [o.ymin / height for o in objects]),
        "image/object/bbox/ymax": ("float", [o.ymax / height for o in objects]),
        "image/object/class/text": ("bytes", [o.name.encode("utf-8") for o in objects]),
        "image/object/class/label": ("int", [ids[o.name] for o in objects]),
        "image/object/area": ("float", [(o.xmax - o.xmin) * (o.ymax - o.ymin)
                                        for o in objects]),
        "image/object/difficult": ("int", [o.difficult for o in objects]),
        "image/object/is_crowd": ("int", [o.is_crowd for o in objects]),
        "image/object/group_of": ("int", [o.group_of for o in objects]),
    }
    if any(o.mask is not None for o in objects):  # --masks: a mask per box
        masks = [_mask(obj, sample, width, height, problems) for obj in objects]
        features["image/object/mask"] = ("bytes", [png for png, _ in masks])
        features["image/object/mask/weight"] = ("float", [weight for _, weight in masks])
    if keypoints is not None:
        for obj in objects:
            obj.keypoints = keypoints_mod.fit(obj.keypoints or [], width, height,
                                              f"{sample.source}: {obj.name}", problems)
        features.update(keypoints_mod.features(objects, width, height, keypoints))
    return example_parts(features), len(objects)


def _scale(objects, width: int, height: int, scale_x: float, scale_y: float) -> None:
    """Boxes and masks of OBJECTS, annotated on an image that (SCALE_X, SCALE_Y) turns into
    the WIDTHxHEIGHT image, in that image's pixels: a box and its mask scale together."""
    for obj in objects:
        obj.xmin, obj.xmax = obj.xmin * scale_x, obj.xmax * scale_x
        obj.ymin, obj.ymax = obj.ymin * scale_y, obj.ymax * scale_y
        obj.mask = segmentations.fitted(obj.mask, width, height, scale_x, scale_y)
        obj.keypoints = keypoints_mod.scaled(obj.keypoints, scale_x, scale_y)


def _mask(obj, sample: Sample, width: int, height: int, problems: Problems):
    """(The PNG mask of OBJ, its image/object/mask/weight). An object with no segmentation, or
    one with no pixel in the image, gets its box as its mask, counted, weight 0: a blank mask
    would teach Mask R-CNN's mask head that the object has no pixels, and dropping the box
    would teach its detector that the object is background (docs/instance-segmentation.md)."""
    pixels = segmentations.pixels(obj.mask, width, height) if obj.mask else None
    if pixels is not None and pixels.any():
        return segmentations.png_mask(pixels), 1.0
    why = "no pixel in the image" if obj.mask else "no segmentation"
    problems.add("box_mask", f"{sample.source}: {obj.name}: {why}")
    box = segmentations.box_polygon(obj.xmin, obj.ymin, obj.xmax, obj.ymax)
    return segmentations.png_mask(segmentations.pixels(box, width, height)), 0.0


def _mask_fits(obj, sample: Sample, width: int, height: int, problems: Problems) -> bool:
    """Whether OBJ's segmentation fits the image as it is (the reader checked the annotated
    size); pycocotools never sees one that does not."""
    found = segmentations.problem(obj.mask, width, height)
    if found:
        problems.add("bad_mask", f"{sample.source}: {obj.name}: {found}")
    return not found
