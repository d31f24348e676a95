"""The FPN's top-down upsampling in the model built for TFLite export.

The OD API's Keras FPN (`KerasFpnTopDownFeatureMaps`, behind MobileNet V1 FPN, MobileNet V2
FPNLite and ResNet V1 FPN) upsamples by default with `utils/ops.py nearest_neighbor_upsampling`:
a reshape to rank 6 and a broadcast, which the TFLite converter turns into PACK and RESHAPE ops on
rank-5 tensors that the Edge TPU compiler refuses. With `use_native_resize_op` it emits one
RESIZE_NEAREST_NEIGHBOR instead. The config proto does not expose that flag and the ResNet
extractor does not pass it, so the export build sets it in the FPN's constructor, only while
that build is made. Both compute the same values and the upsampling has no variables: the
trained checkpoint restores into either build, and `export_graph` checks that the two give the
same detections on a few eval images before anything is written.
"""

import contextlib
from pathlib import Path

import numpy as np

from odwrap.deploy.runtime import resize
from odwrap.errors import RunError
from odwrap.odapi import compat

CHECK_IMAGES = 4  # eval images both builds run on before the native one is exported
TOLERANCE = 1e-4  # boxes (normalized) and scores; classes and counts must be equal


@contextlib.contextmanager
def fpn_upsampling(upsampling: str):
    """While active, FPN models built by the OD API use UPSAMPLING ('native' or 'reshape');
    yields a list that holds one entry per FPN built with the native resize."""
    generators = compat.load("object_detection.models.feature_map_generators")
    built: list = []
    if upsampling == "reshape":
        yield built
        return
    fpn = generators.KerasFpnTopDownFeatureMaps
    default_init = fpn.__init__

    # The class itself stays: its __init__ names it in super(), so a subclass swapped into the
    # module would recurse into itself.
    def native_init(self, *args, **kwargs):
        kwargs["use_native_resize_op"] = True
        default_init(self, *args, **kwargs)
        built.append(self.name)

    fpn.__init__ = native_init
    try:
        yield built
    finally:
        fpn.__init__ = default_init


def detections(model, images) -> list[dict]:
    """The post-processed detections of a built model on uint8 RGB images of its input size."""
    import tensorflow as tf

    found = []
    for image in images:
        preprocessed, shapes = model.preprocess(tf.constant(image[None], tf.float32))
        output = model.postprocess(model.predict(preprocessed, shapes), shapes)
        count = int(output["num_detections"][0])
        found.append({key: np.asarray(output[f"detection_{key}"][0][:count])
                      for key in ("boxes", "scores", "classes")})
    return found


def restored_model(config, checkpoint_dir: Path, upsampling: str, images):
    """(the detection model built with UPSAMPLING and the checkpoint restored, its detections on
    IMAGES, whether it has an FPN that the native resize changed)."""
    import tensorflow as tf

    builder = compat.load("object_detection.builders.model_builder")
    with fpn_upsampling(upsampling) as native:
        model = builder.build(config.model, is_training=False)
        checkpoint = tf.train.Checkpoint(model=model)
        status = checkpoint.restore(tf.train.latest_checkpoint(str(checkpoint_dir)))
        found = detections(model, images)  # the first call builds the Keras layers
    status.expect_partial().assert_existing_objects_matched()
    return model, found, bool(native)


def compare(native: list[dict], reshape: list[dict]) -> str | None:
    """Why the native build's detections differ from the reshape build's, or None."""
    for index, (mine, theirs) in enumerate(zip(native, reshape)):
        if len(mine["scores"]) != len(theirs["scores"]):
            return (f"image {index + 1}: {len(mine['scores'])} detections against "
                    f"{len(theirs['scores'])}")
        if not np.array_equal(mine["classes"], theirs["classes"]):
            return f"image {index + 1}: the classes differ"
        for key in ("boxes", "scores"):
            gap = float(np.max(np.abs(mine[key] - theirs[key]), initial=0.0))
            if gap > TOLERANCE:
                return f"image {index + 1}: {key} differ by up to {gap:.2g}"
    return None


def export_graph(job, staging: Path, max_detections: int, upsampling: str) -> None:
    """The OD API's TFLite graph export (a SavedModel under STAGING/saved_model) of the model
    built with UPSAMPLING; a native build is first checked against the default one."""
    import tensorflow as tf

    graph = compat.load("object_detection.export_tflite_graph_lib_tf2")
    height, width = job.input_size
    images = [resize(image, height, width) for image in job.eval_images(CHECK_IMAGES)]
    model, found, changed = restored_model(job.config, job.checkpoint_dir, upsampling, images)
    if upsampling == "native" and not job.upsampling_note:
        if not changed:
            job.upsampling_note = "upsampling: native asked, but the model has no FPN to change"
        elif not images:
            job.upsampling_note = ("upsampling: native resize in the FPN (no eval images to "
                                   "check it against the default build)")
        else:
            _, default, _ = restored_model(job.config, job.checkpoint_dir, "reshape", images)
            why = compare(found, default)
            if why is not None:
                raise RunError(f"the FPN built with the native resize does not give the "
                               f"default build's detections ({why}); export with "
                               "--upsampling reshape")
            job.upsampling_note = (f"upsampling: native resize in the FPN; its detections "
                                   f"equal the default build's on {len(images)} eval image(s)")
    elif upsampling == "reshape" and not job.upsampling_note:
        job.upsampling_note = "upsampling: reshape (the OD API's default FPN upsampling)"
    module = graph.SSDModule(job.config, model, max_detections, False)
    signature = module.inference_fn.get_concrete_function(
        tf.TensorSpec(shape=module.input_shape(), dtype=tf.float32, name="input"))
    tf.saved_model.save(module, str(staging / "saved_model"), signatures=signature)
