"""The checks of numbers any config may hold wrong: a float field that is NaN or infinite (the
text format reads `nan` and `inf`, and training then diverges or never starts), a training
batch of 0, a learning rate that is not positive. Registered with the same registry as
odwrap.config.checks, which imports this module."""

import math

from google.protobuf.descriptor import FieldDescriptor

from odwrap.config.findings import ERROR, Finding, check

FLOATS = (FieldDescriptor.TYPE_FLOAT, FieldDescriptor.TYPE_DOUBLE)


def _floats(message, path: str = ""):
    """(field path, value) of every float set in MESSAGE, nested messages and lists included."""
    for field, value in message.ListFields():
        name = f"{path}.{field.name}" if path else field.name
        repeated = field.is_repeated if hasattr(field, "is_repeated") else \
            field.label == FieldDescriptor.LABEL_REPEATED  # protobuf before 5.28
        if field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry:
            yield from _map_floats(field, value, name)  # keypoint_label_to_std and the like
            continue
        items = list(enumerate(value)) if repeated else [(None, value)]
        for index, item in items:
            where = name if index is None else f"{name}[{index}]"
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                yield from _floats(item, where)
            elif field.type in FLOATS:
                yield where, item


def _map_floats(field, value, name: str):
    """(field path, value) of the floats in a map field (its entries' values)."""
    value_field = field.message_type.fields_by_name["value"]
    for key, item in value.items():
        where = f"{name}[{key!r}]"
        if value_field.type == FieldDescriptor.TYPE_MESSAGE:
            yield from _floats(item, where)
        elif value_field.type in FLOATS:
            yield where, item


@check("ODW029", "bad-number")
def _bad_numbers(config, target):
    found = []
    for path, value in _floats(config):
        if not math.isfinite(value):
            found.append(Finding("ODW029", ERROR, path, f"{path} is {value}",
                                 "give a finite number"))
        elif path.endswith(("learning_rate_base", "initial_learning_rate",
                            "constant_learning_rate.learning_rate")) and value <= 0:
            found.append(Finding("ODW029", ERROR, path,
                                 f"a learning rate of {value:g}: the model would not learn",
                                 "give a positive learning rate"))
    train = config.train_config
    if config.HasField("train_config") and train.HasField("batch_size") and train.batch_size < 1:
        found.append(Finding("ODW029", ERROR, "train_config.batch_size",
                             f"a batch of {train.batch_size} images", "give 1 or more"))
    return found
