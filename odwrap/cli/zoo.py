"""`odwrap zoo list` and `zoo pull`: the parser of `zoo` and its subcommands, and the functions
that run them (the API call and what they print)."""

from pathlib import Path

from odwrap import api
from odwrap.cli.common import EXIT_OK
from odwrap.zoo.catalog import FAMILIES


def add_zoo(subparsers) -> None:
    zoo = subparsers.add_parser(
        "zoo", help="list and fetch the TF2 Detection Zoo's pretrained models",
        description="The TF2 Detection Zoo's COCO-trained detectors, kept in a local cache "
                    "($ODWRAP_CACHE, else $XDG_CACHE_HOME/odwrap, else ~/.cache/odwrap) and "
                    "verified against their record on every reuse. $ODWRAP_ZOO_URL points at "
                    "a mirror (http, https, file:// or gs://) holding DATE/NAME.tar.gz.")
    actions = zoo.add_subparsers(dest="zoo_command", metavar="SUBCOMMAND", parser_class=type(zoo),
                                 required=True)
    listing = actions.add_parser(
        "list", help="every zoo model: family, input size, whether it is cached",
        description="Print every zoo model with its family, input size, what it outputs "
                    "besides boxes, and its size when it is in the cache.")
    listing.add_argument("--family", choices=list(FAMILIES), help="only this family")
    listing.set_defaults(func=zoo_list)
    pull = actions.add_parser(
        "pull", help="download (or import) a zoo model and print its checkpoint prefix",
        description="Fetch zoo model NAME into the cache (resuming an interrupted download), "
                    "extract it safely, and print the checkpoint prefix for a pipeline.config's "
                    "fine_tune_checkpoint as the last line. A cached model is verified (size and "
                    "SHA-256) and reused.")
    pull.add_argument("name", help="a zoo model's name, as 'odwrap zoo list' prints it")
    pull.add_argument("--from", dest="source", type=Path, metavar="TARBALL",
                      help="import this local copy of the model's .tar.gz instead of "
                           "downloading it (for machines without network)")
    pull.add_argument("--force", action="store_true",
                      help="fetch it again even when it is cached (a fresh download)")
    pull.set_defaults(func=zoo_pull)


def zoo_list(args) -> int:
    cached = api.zoo_cached()
    rows = [("NAME", "FAMILY", "INPUT", "OUTPUTS", "CACHED")]
    for model in api.zoo_models(args.family):
        record = cached.get(model.name)
        rows.append((model.name, model.family, model.size_text, model.kind,
                     f"{record.size / 1e6:.1f} MB" if record else "-"))
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1])
    print(f"{len(rows) - 1} model(s), {sum(1 for row in rows[1:] if row[-1] != '-')} cached; "
          "'odwrap zoo pull NAME' fetches one")
    return EXIT_OK


def zoo_pull(args) -> int:
    print(api.zoo_checkpoint(args.name, source=args.source, force=args.force))
    return EXIT_OK
