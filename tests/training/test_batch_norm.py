"""Batch-norm statistics measured again before a from-scratch checkpoint is saved
(odwrap.training.batch_norm), on the OD API's own FreezableBatchNorm: the averages become the
mean of the batches' statistics (worked out here with numpy), the layers' own momenta come
back, a checkpoint holds the same variables, and frozen layers keep theirs. The keypoint
end-to-end test checks a real training run's checkpoint."""

import numpy as np
import pytest

from odwrap.training import batch_norm

pytestmark = [pytest.mark.tf]


@pytest.fixture(scope="module")
def tf():
    from odwrap.odapi import compat

    compat.apply()
    return compat.import_tensorflow()


def batches(count=3):
    """COUNT batches of 4 images 5x5x3, each of its own mean and spread."""
    rng = np.random.default_rng(7)
    shapes = [(1.0, 2.0), (-3.0, 0.5), (0.5, 1.0), (2.0, 3.0)][:count]
    return [rng.normal(mean, spread, (4, 5, 5, 3)).astype(np.float32)
            for mean, spread in shapes]


def built(tf, *layers):
    model = tf.keras.Sequential(list(layers))
    model(np.zeros((1, 5, 5, 3), np.float32), training=False)
    return model


def test_the_averages_become_the_mean_of_the_batches_statistics(tf, tmp_path):
    from object_detection.core.freezable_batch_norm import FreezableBatchNorm

    layer = FreezableBatchNorm(training=True, momentum=0.9997, epsilon=1e-3)
    model = built(tf, layer)
    before = tf.train.Checkpoint(model=model).save(str(tmp_path / "before"))
    data = batches()
    remeasure = batch_norm.Remeasure(tf, batch_norm.batch_norm_layers(model),
                                     lambda images: model(images, training=True))
    assert remeasure(iter(data), len(data)) == 3
    means = [images.mean(axis=(0, 1, 2)) for images in data]
    # Keras keeps the unbiased variance of a batch (the fused kernel's), 100 values a channel.
    variances = [images.var(axis=(0, 1, 2), ddof=1) for images in data]
    np.testing.assert_allclose(layer.moving_mean.numpy(), np.mean(means, 0), rtol=1e-5)
    np.testing.assert_allclose(layer.moving_variance.numpy(), np.mean(variances, 0), rtol=1e-5)
    assert layer.momentum == 0.9997 and isinstance(layer.momentum, float)
    after = tf.train.Checkpoint(model=model).save(str(tmp_path / "after"))
    assert [name for name, _ in tf.train.list_variables(after)] == \
        [name for name, _ in tf.train.list_variables(before)]
    # Once more from the same iterator's next batch: a fresh mean, not one mixed with the last.
    remeasure(iter(batches(4)[3:]), 1)
    np.testing.assert_allclose(layer.moving_mean.numpy(),
                               batches(4)[3].mean(axis=(0, 1, 2)), rtol=1e-5)


def test_frozen_batch_norms_keep_their_averages(tf):
    from object_detection.core.freezable_batch_norm import FreezableBatchNorm

    moving, frozen = FreezableBatchNorm(training=True), FreezableBatchNorm(training=False)
    untrainable = tf.keras.layers.BatchNormalization()
    model = built(tf, moving, frozen, untrainable)
    untrainable.trainable = False
    assert batch_norm.batch_norm_layers(model) == [moving]
    kept = [(layer.moving_mean.numpy(), layer.moving_variance.numpy())
            for layer in (frozen, untrainable)]
    batch_norm.Remeasure(tf, [moving], lambda images: model(images, training=True))(
        iter(batches()), 3)
    assert not np.allclose(moving.moving_mean.numpy(), 0)
    for layer, (mean, variance) in zip((frozen, untrainable), kept):
        np.testing.assert_array_equal(layer.moving_mean.numpy(), mean)
        np.testing.assert_array_equal(layer.moving_variance.numpy(), variance)


class Layer:
    """What batch_norm reads of a batch-norm layer."""

    def __init__(self, momentum):
        self.momentum = momentum
        self.moving_mean = self.moving_variance = None
        self.trainable = True


def test_stale_is_the_largest_share_still_initial():
    # 0.9997 ** 4800 = exp(4800 * ln 0.9997) = exp(-1.44) = 0.237; 0.99 ** 4800 is nothing.
    assert batch_norm.stale_share([Layer(0.99), Layer(0.9997)], 4800) == pytest.approx(0.237,
                                                                                      abs=1e-3)
    assert batch_norm.stale_share([Layer(0.9997)], 15349) < batch_norm.STALE < \
        batch_norm.stale_share([Layer(0.9997)], 15348)
    assert batch_norm.stale_share([], 10) == 0.0


class Built:
    """A training set-up of one batch norm, for the refresher's choices alone (it has no data
    to remeasure with: a test that reached remeasuring would fail)."""

    def __init__(self, momentum):
        self.model = type("Model", (), {"submodules": [Layer(momentum)]})()


def test_the_api_refuses_a_negative_count_before_anything(tmp_path):
    import odwrap
    from odwrap.errors import InputError

    with pytest.raises(InputError, match="^--batch-norm-batches must be at least 0$"):
        odwrap.train(tmp_path / "spec.yaml", tmp_path / "model", batch_norm_batches=-1)
    assert not (tmp_path / "model").exists()


def test_the_refresher_runs_from_scratch_on_one_replica_while_stale():
    """When it remeasures (the remeasuring itself is tested above on real layers)."""
    refresher = batch_norm.Refresher(Built(0.9997), from_scratch=False, single_replica=True)
    assert refresher.before_save(100) is None  # fine-tuned: the checkpoint's averages
    several = batch_norm.Refresher(Built(0.9997), from_scratch=True, single_replica=False)
    note = several.before_save(100)
    assert "kept as trained" in note and "97%" in note  # 0.9997 ** 100 = 0.970
    assert several.before_save(200) is None  # said once
    settled = batch_norm.Refresher(Built(0.99), from_scratch=True, single_replica=True)
    assert settled.before_save(459) is None  # 0.99 ** 459 = 0.0099: under STALE


def moving_variances(prefix):
    """Every batch norm's moving variance in the checkpoint PREFIX, in one array."""
    import tensorflow as tf

    reader = tf.train.load_checkpoint(str(prefix))
    return np.concatenate([reader.get_tensor(name).ravel() for name, _ in
                           tf.train.list_variables(str(prefix))
                           if name.endswith("moving_variance/.ATTRIBUTES/VARIABLE_VALUE")])


def test_no_batches_keep_the_averages_as_trained(tiny_model):
    """`train --batch-norm-batches 0` (the shared tiny SSD, 2 steps from scratch): no line, and
    the checkpoint's moving variances are still 0.997 ** 2 = 99.4 % their initial 1."""
    assert "batch norm:" not in tiny_model.train_output
    variances = moving_variances(tiny_model.model_dir / "ckpt-2")
    assert variances.size > 100
    assert np.mean(np.abs(variances - 1) < 0.01) > 0.9
