"""Which API functions each command stands for: the parser takes every option's default from
their signatures, so that a default is written once, in odwrap.api."""

import argparse
import inspect

from odwrap import api
from odwrap.deploy.predict import predict as local_predict

# Each command's API functions, whose signatures hold every default the parser shows (the one
# place they are written), and the options whose name differs from the parameter's. An option
# with no parameter of that name is the CLI's own (a mode such as --watch, --verbose).
API = {
    "doctor": ((api.diagnose,), {}),
    "generate": ((api.generate,), {"set": "overrides"}),
    "check": ((api.check,), {"file": "source", "set": "overrides", "target": "targets"}),
    "train": ((api.train,), {"set": "overrides"}),
    "eval": ((api.evaluate, api.watch, api.evaluate_export), {}),
    "plot": ((api.plot,), {}),
    "export": ((api.export,), {}),
    "predict": ((api.predict, local_predict), {}),  # the runner, then the local run's options
    "benchmark": ((api.benchmark,), {}),
    "verify": ((api.verify, api.record_golden), {"record_golden": "folder"}),
    "convert": ((api.convert,), {}),
    "labelmap": ((api.write_label_map,), {}),
    "stats": ((api.stats,), {}),
    "demo-data": ((api.demo_data,), {}),
    "merge": ((api.merge,), {"format": "input_format"}),
    "trim": ((api.trim,), {"input": "source", "format": "input_format"}),
    "profile": ((api.profile,), {"set": "overrides"}),
    "batch-size": ((api.batch_size,), {"set": "overrides"}),
    "zoo list": ((api.zoo_models,), {}),
    "zoo pull": ((api.zoo_checkpoint,), {}),
}


def api_parameter(command: str, dest: str):
    """The API parameter (inspect.Parameter) that option DEST of COMMAND stands for, or None."""
    functions, renamed = API[command]
    name = renamed.get(dest, dest)
    for function in functions:
        parameter = inspect.signature(function).parameters.get(name)
        if parameter is not None:
            return parameter
    return None


def defaults_from_api(parser, command: str) -> None:
    """Set each option's default from the API signature of COMMAND."""
    for action in parser._actions:
        parameter = api_parameter(command, action.dest)
        if parameter is None or parameter.default is parameter.empty:
            continue
        default = parameter.default
        if isinstance(action, argparse._AppendAction) and default is not None:
            default = list(default)  # argparse appends to it
        action.default = default


def command_parsers(parser) -> dict:
    """Each command's parser by name ('zoo pull' for a subcommand)."""
    found = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                inner = command_parsers(sub)
                found.update({f"{name} {key}": value for key, value in inner.items()}
                             if inner else {name: sub})
    return found


def arguments(args, command: str, function) -> dict:
    """The keyword arguments of FUNCTION (one of COMMAND's API functions) from the parsed ARGS:
    each parameter that an option of COMMAND stands for, by the option's value (for a FUNCTION
    that passes **options on, also those of the API functions listed after it)."""
    functions, renamed = API[command]
    by_parameter = {renamed.get(dest, dest): dest for dest in vars(args)}
    parameters = inspect.signature(function).parameters
    names = list(parameters)
    if any(item.kind is item.VAR_KEYWORD for item in parameters.values()):
        names += [name for later in functions[functions.index(function) + 1:]
                  for name in inspect.signature(later).parameters]
    return {name: getattr(args, by_parameter[name]) for name in names if name in by_parameter}
