"""The moving averages that training keeps (train_config.optimizer.use_moving_average), as a
checkpoint of the model alone, for exporters that restore `Checkpoint(model=...)` only."""

from pathlib import Path

from odwrap.errors import InputError
from odwrap.odapi import setup
from odwrap.training.modeldir import ModelDir

# How results and notes name the weights; `choose` takes "averages" or "trained" (the names of
# deploy.export.WEIGHTS, as --weights and the API give them).
AVERAGES, TRAINED = "moving averages", "trained"
_ASKED = {"averages": AVERAGES, AVERAGES: AVERAGES, "trained": TRAINED}


def choose(folder: ModelDir, weights: str | None) -> str:
    """The weights to export: as asked ("averages" or "trained"), else the averages when
    training kept them."""
    kept = folder.config.train_config.optimizer.use_moving_average
    if weights is None:
        return AVERAGES if kept else TRAINED
    if weights not in _ASKED:
        raise InputError(f"--weights {weights}: averages or trained")
    weights = _ASKED[weights]
    if weights == AVERAGES and not kept:
        raise InputError(f"{folder.config_path}: training kept no moving averages "
                         "(train_config.optimizer.use_moving_average is false)")
    return weights


def swap_in_averages(optimizer, model) -> None:
    """Swap the EMA optimizer's averages with MODEL's trainable weights (what its swap_weights
    does, without the distribution strategy that it insists on and eval does not need)."""
    for variable in model.trainable_variables:
        average = optimizer.get_slot(variable, "average")
        value = variable.read_value()
        variable.assign(average)
        average.assign(value)


def write_averaged_checkpoint(folder: ModelDir, destination: Path,
                              checkpoint: str | None = None) -> Path:
    """Restore FOLDER's latest checkpoint (or CHECKPOINT) with its averages, swap them into the
    model, and save the model alone under DESTINATION; the checkpoint's prefix."""
    tf = setup.tensorflow()
    config = folder.config
    model = setup.inference_model(config)
    step = tf.Variable(0, trainable=False, dtype=tf.int64)
    # One pass over a blank image creates the variables that the averages shadow.
    optimizer = setup.shadow_averages(config, model, step)
    checkpoint = checkpoint or folder.require_checkpoint("export")
    tf.train.Checkpoint(step=step, model=model, optimizer=optimizer).restore(checkpoint) \
        .expect_partial()
    swap_in_averages(optimizer, model)
    return Path(tf.train.Checkpoint(model=model).save(str(Path(destination) / "ckpt")))
