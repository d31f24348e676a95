"""ODW030: the number of keypoints a config, its label maps and its records say, which must agree.

The OD API's decoder reshapes each record's image/object/keypoint/* to [objects,
num_keypoints], CenterNet's builder takes each task's keypoint ids from the keypoint label map,
the evaluator takes each class's keypoints from the evaluation's label map, and the flip
permutations and keypoint edges index the same keypoints; any of them off by one fails deep in
training or evaluation (or, for the decoder, with a reshape error on the first batch).
"""

from pathlib import Path

from odwrap.config.findings import ERROR, Finding, check
from odwrap.errors import InputError
from odwrap.odapi import facts, labelmap
from odwrap.odapi.tfexample import decode_example, read_records

ID = "ODW030"
RECORDS_READ = 20  # records with boxes read of each reader's first file: the check stays cheap
FLIPS = ("random_horizontal_flip", "random_vertical_flip")


def _label_map(path: str, config, target):
    """The label map at PATH (the target's own when it is the config's, e.g. inline classes),
    or None when it cannot be read here."""
    if target.label_map is not None and path == facts.label_map_path(config):
        return target.label_map
    if not path or "://" in path or not Path(path).is_file():
        return None
    try:
        return labelmap.read(path)
    except InputError:
        return None


def _tasks(config) -> list:
    if facts.meta_architecture(config) != "center_net":
        return []
    return list(config.model.center_net.keypoint_estimation_task)


def _readers(config) -> list[tuple[str, object]]:
    return [("train_input_reader", config.train_input_reader)] + [
        (f"eval_input_reader[{index}]", reader)
        for index, reader in enumerate(config.eval_input_reader)]


@check(ID, "keypoint-count")
def _keypoint_count(config, target):
    tasks = _tasks(config)
    declared = [(name, reader.num_keypoints) for name, reader in _readers(config)]
    if not tasks and not any(count for _, count in declared):
        return []
    found = []
    keypoint_map, path = None, None
    if tasks:
        path = config.model.center_net.keypoint_label_map_path
        keypoint_map = _label_map(path, config, target)
        if keypoint_map is not None:
            found += _task_classes(tasks, keypoint_map, path)
    wanted = labelmap.num_keypoints(keypoint_map) if keypoint_map is not None else None
    for name, count in declared:
        reader = dict(_readers(config))[name]
        if not reader.ByteSize():
            continue
        if wanted is not None and count != wanted:
            found.append(Finding(ID, ERROR, f"{name}.num_keypoints",
                                 f"num_keypoints is {count} but the keypoint label map's "
                                 f"keypoints number {wanted}", f"set num_keypoints: {wanted}"))
        reader_map = _label_map(reader.label_map_path, config, target)
        told = wanted is not None and reader.label_map_path == path  # the finding above
        if reader_map is not None and not told and \
                labelmap.num_keypoints(reader_map) != count and \
                (tasks or labelmap.num_keypoints(reader_map)):
            found.append(Finding(ID, ERROR, f"{name}.label_map_path",
                                 f"the label map lists {labelmap.num_keypoints(reader_map)} "
                                 f"keypoints, num_keypoints is {count} (the evaluator takes "
                                 "each class's keypoints from it)",
                                 "convert --keypoints writes a label map that lists them; "
                                 "use it"))
        if target.checked_paths and count:
            found += _records(name, reader, count)
    count = config.train_input_reader.num_keypoints
    return found + _flips(config, count) + _edges(config, count)


def _task_classes(tasks, keypoint_map, path) -> list[Finding]:
    items = {item.name: item for item in keypoint_map.item}
    found = []
    for index, task in enumerate(tasks):
        item = items.get(task.keypoint_class_name)
        if item is None or not item.keypoints:
            what = "has no class" if item is None else "lists no keypoints for class"
            found.append(Finding(ID, ERROR, f"model.center_net.keypoint_estimation_task[{index}]"
                                 ".keypoint_class_name",
                                 f"the keypoint label map {path} {what} "
                                 f"'{task.keypoint_class_name}' (the OD API's builder raises "
                                 "KeyError)", "odwrap convert --keypoints writes a label map "
                                 "with each class's keypoints; point keypoint_label_map_path "
                                 "at it"))
    return found


def _records(name: str, reader, count: int) -> list[Finding]:
    """Keypoints per object in the first records with boxes of the reader's first file."""
    files = facts.match_files(reader.tf_record_input_reader.input_path)[:1]
    for path in files:
        try:
            checked = 0
            for record in read_records(path):
                example = decode_example(record)
                boxes = len(example.get("image/object/bbox/xmin", []))
                if not boxes:
                    continue
                points = len(example.get("image/object/keypoint/x", []))
                if points != boxes * count:
                    what = (f"{points / boxes:g} keypoints an object" if points
                            else "no keypoints")
                    return [Finding(ID, ERROR, f"{name}.num_keypoints",
                                    f"num_keypoints is {count} but the records of {path} have "
                                    f"{what}; the decoder's reshape fails on them",
                                    "convert the data again with odwrap convert --keypoints "
                                    "and its label map")]
                checked += 1
                if checked >= RECORDS_READ:
                    break
        except (InputError, OSError, ValueError, IndexError):
            continue  # ODW004 and training say what is wrong with the file
    return []


def _flips(config, count: int) -> list[Finding]:
    found = []
    for index, step in enumerate(config.train_config.data_augmentation_options):
        kind = step.WhichOneof("preprocessing_step")
        if kind not in FLIPS or not count:
            continue
        permutation = list(getattr(step, kind).keypoint_flip_permutation)
        where = f"train_config.data_augmentation_options[{index}].{kind}"
        if len(permutation) != count or sorted(permutation) != list(range(count)):
            what = (f"keypoint_flip_permutation has {len(permutation)} entries"
                    if permutation else "no keypoint_flip_permutation is given")
            found.append(Finding(ID, ERROR, f"{where}.keypoint_flip_permutation",
                                 f"{what} for {count} keypoints (the preprocessor refuses "
                                 "keypoints without one, and gathers by it)",
                                 f"give a permutation of 0..{count - 1} (odwrap specs derive "
                                 "it from model.keypoints' flip pairs)"))
    return found


def _edges(config, count: int) -> list[Finding]:
    return [Finding(ID, ERROR, f"eval_config.keypoint_edge[{index}]",
                    f"edge {edge.start}-{edge.end} joins a keypoint beyond the {count} there "
                    "are (the evaluation's pictures index them)",
                    "join keypoints 0..num_keypoints-1")
            for index, edge in enumerate(config.eval_config.keypoint_edge)
            if not (0 <= edge.start < count and 0 <= edge.end < count)]
