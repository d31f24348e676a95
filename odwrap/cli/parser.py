"""The `odwrap` argument parser, assembled from the command modules: each module of odwrap.cli
(config, data, training, deploy, results, zoo) holds its commands' parsers beside the functions
that run them. Choices come from the library's own tables, imported without numpy or TensorFlow;
every option's default comes from the API's signatures (odwrap.cli.options).
"""

import argparse

from odwrap import __version__
from odwrap.cli import config, data, deploy, results, training, zoo
from odwrap.cli.options import command_parsers, defaults_from_api
from odwrap.errors import InputError

# In `odwrap --help`'s order: the flow of the work, spec -> data -> train -> export -> results.
COMMANDS = (config.add_doctor, config.add_generate, config.add_check, training.add_train,
            training.add_eval, training.add_plot, deploy.add_export, deploy.add_predict,
            deploy.add_verify, deploy.add_benchmark, data.add_convert, data.add_labelmap,
            data.add_stats, zoo.add_zoo, results.add_merge, results.add_trim, training.add_profile, training.add_batch_size,
            data.add_demo_data)


class Parser(argparse.ArgumentParser):
    """Errors as InputError (one line, exit 2), and a command's positionals may come after its
    options (`verify MODEL --record-golden DIR IMAGES...`): a command without subcommands parses
    its arguments intermixed, as `parse_intermixed_args` does."""

    _intermixing = False

    def error(self, message):
        raise InputError(f"{self.prog}: {message}")

    def parse_known_args(self, args=None, namespace=None):
        if self._subparsers is not None or self._intermixing:
            return super().parse_known_args(args, namespace)
        self._intermixing = True  # parse_known_intermixed_args calls back in here
        try:
            return self.parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="odwrap",
        description="The TensorFlow 2 Object Detection API, end to end: YAML spec -> "
                    "pipeline.config -> TFRecords -> train -> eval -> export.",
        epilog="Start with 'odwrap doctor' when something is off. "
               "'odwrap COMMAND --help' describes each command.")
    parser.add_argument("--version", action="version", version=f"odwrap {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for add in COMMANDS:
        add(subparsers)
    for command, sub in command_parsers(parser).items():
        defaults_from_api(sub, command)
    return parser
