"""What a check finds, what a config runs on, and the registry that checks join.

A check is a function registered with `@check(id, name)`; it gets the config and the Target and
returns Findings (odwrap.config.checks holds them all). A finding id given outside a registered
check (the file that cannot be read, `check --build`) is declared here too: every id is in the
registry, once.
"""

from dataclasses import asdict, dataclass, field

ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Finding:
    id: str
    severity: str
    path: str
    message: str
    hint: str

    def format(self) -> str:
        return f"{self.severity}: {self.id} {self.path}: {self.message} (fix: {self.hint})"

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Target:
    """What a config will be trained and exported on; checks depend on it."""

    device: str = "cpu"  # cpu | gpu | tpu
    num_devices: int = 1  # GPUs, or TPU cores
    export_targets: tuple = ()
    export_batch_size: int = 1
    label_map: object = None  # the label map, when already read (or a spec's inline classes)
    label_map_inline: bool = False  # the label map exists only in memory so far
    checked_paths: bool = True
    xla: str | bool = "auto"  # train.xla: auto | True | False
    mixed_precision: bool = False  # train.mixed_precision


@dataclass
class _Registry:
    checks: list = field(default_factory=list)
    ids: dict = field(default_factory=dict)  # every finding id: its name

    def declare(self, check_id: str, name: str) -> str:
        """Reserve CHECK_ID for NAME; an id declared twice is a bug."""
        if check_id in self.ids:
            raise ValueError(f"finding id {check_id} is taken by {self.ids[check_id]!r}")
        self.ids[check_id] = name
        return check_id

    def register(self, check_id: str, name: str):
        self.declare(check_id, name)

        def decorate(func):
            self.checks.append((check_id, name, func))
            return func
        return decorate


REGISTRY = _Registry()
check = REGISTRY.register
UNREADABLE = REGISTRY.declare("ODW000", "unreadable-file")  # check --json: nothing was checked
BUILD = REGISTRY.declare("ODW100", "build")  # check --build: the OD API's builder refused
