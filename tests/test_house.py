"""The shape of the house: imports run one way (cli -> api -> stages -> odapi -> leaves), no
import cycle (function-level imports included), every module says its one job in a docstring
and stays under 400 lines, and `import odwrap` loads neither numpy nor TensorFlow."""

import ast
import json
import re

import pytest

from tests.conftest import ROOT, run_python

PACKAGE = ROOT / "odwrap"
# Lower layers never import higher ones; a package may import itself and anything below it.
LAYERS = {
    "errors": -1, "fsutil": 0, "locks": 0, "report": 0,
    "odapi": 1,
    "zoo": 1.5,  # below config (which maps sample configs to zoo checkpoints), above odapi.compat
    "config": 2, "data": 2,
    "evaluation": 2.5,  # analysis of COCO-style ground truth and detections (no models run)
    "training": 3,
    "deploy": 4,
    "results": 4.5,  # detection files after prediction (merge, trim)
    "doctor": 5,
    "failures": 5.5,  # the error boundary of the TensorFlow jobs (reads a model folder's config)
    "api": 6,
    "__init__": 7,
    "cli": 8, "__main__": 9,
}


def module_name(path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict:
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports_of(path, name: str) -> set[str]:
    """The odwrap modules a module imports anywhere in its body."""
    found = set()
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("odwrap")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            if not base.startswith("odwrap"):
                continue
            known = modules()
            submodules = {f"{base}.{alias.name}" for alias in node.names} & set(known)
            found |= submodules or {base}
    known = modules()
    return {item for item in found if item in known and item != name}


def layer(name: str) -> tuple[str, int]:
    parts = name.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    return top, LAYERS[top]


def test_every_module_is_in_a_layer():
    assert {layer(name)[0] for name in modules()} <= set(LAYERS)


def test_imports_run_one_way():
    wrong = []
    for name, path in modules().items():
        top, rank = layer(name)
        for target in imports_of(path, name):
            other, other_rank = layer(target)
            if other != top and other_rank >= rank:
                wrong.append(f"{name} -> {target}")
    assert wrong == []


def test_no_import_cycle():
    graph = {name: imports_of(path, name) for name, path in modules().items()}
    # A package's __init__ is imported before its submodules: that edge is no cycle.
    state, cycles = {}, []

    def visit(node, stack):
        state[node] = "open"
        for target in sorted(graph[node]):
            if node.startswith(target + "."):
                continue
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target, stack + [target])
        state[node] = "done"

    for name in graph:
        if name not in state:
            visit(name, [name])
    assert cycles == []


@pytest.mark.parametrize("name", sorted(modules()))
def test_module_has_a_docstring_and_stays_small(name):
    path = modules()[name]
    text = path.read_text()
    if name == "odwrap.__main__":
        return
    assert ast.get_docstring(ast.parse(text)), f"{path} has no docstring saying its one job"
    # odwrap.api is one job, a function per command, and grows with the commands.
    limit = 440 if name == "odwrap.api" else 400
    assert len(text.splitlines()) <= limit, f"{path} is over {limit} lines"


def test_import_odwrap_loads_neither_numpy_nor_tensorflow():
    result = run_python("import json, sys, odwrap; import odwrap.cli.parser; "
                        "print(json.dumps(sorted(m for m in sys.modules "
                        "if m.split('.')[0] in ('numpy', 'tensorflow') or m.startswith('google.'))))")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


def test_the_code_map_names_every_module():
    page = (ROOT / "docs" / "code-map.md").read_text()
    code_map = page[:page.index("Where to add:")]
    missing = [str(path.relative_to(ROOT)) for path in sorted(PACKAGE.rglob("*.py"))
               if path.name not in ("__init__.py", "__main__.py")
               and path.parent.name != "formats"
               and path.name not in code_map and path.stem not in code_map]
    packages = [path.name for path in PACKAGE.iterdir()
                if path.is_dir() and (path / "__init__.py").exists()
                and f"odwrap/{path.name}/" not in code_map]
    assert missing == [] and packages == []


# A file or folder name in backticks: `loop.py`, `export/`, `templates/ssd.j2`, `defaults.yaml`.
NAMED_PATH = re.compile(r"`([\w./-]+(?:\.(?:py|j2|yaml)|/))`")


def _exists(name: str, package) -> bool:
    """NAME is a file or folder: under PACKAGE (a package's row of the table: its own files
    and subfolders'), else from the repository's root or odwrap/, or by its name anywhere in
    odwrap/, templates/ or tests/ (the text around the table)."""
    if package is not None:
        return (package / name).exists() or any(package.rglob(name.rstrip("/")))
    return (ROOT / name).exists() or (PACKAGE / name).exists() or any(
        any(top.rglob(name.rstrip("/"))) for top in (PACKAGE, ROOT / "templates", ROOT / "tests"))


def test_the_code_map_names_no_file_that_is_gone():
    """The other way round: every file and folder the code map names exists; a package's row
    names what is in that package (a row of files, such as `odwrap/errors.py`, what is in
    odwrap/ itself)."""
    page = (ROOT / "docs" / "code-map.md").read_text()
    gone = []
    for line in page.splitlines():
        names = NAMED_PATH.findall(line)
        if not line.startswith("| `odwrap/"):
            gone += [name for name in names if not _exists(name, None)]
        elif names[0].endswith("/"):
            package = ROOT / names[0]
            if not package.is_dir():
                gone.append(names[0])
            gone += [name for name in names[1:] if not _exists(name, package)]
        else:  # `odwrap/errors.py`, `report.py`: files of odwrap/ itself
            gone += [name for name in names
                     if not (ROOT / name).exists() and not (PACKAGE / name).is_file()]
    assert gone == []


def test_the_od_api_is_imported_only_through_odwrap_odapi():
    """`import object_detection...` statements live in odwrap/odapi alone; everything else
    reaches the OD API through it (compat.load applies the fixes first, setup builds)."""
    outside = []
    for name, path in modules().items():
        if name.startswith("odwrap.odapi"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            if any(item.split(".")[0] == "object_detection" for item in names):
                outside.append(f"{name}:{node.lineno}")
    assert outside == []


def test_no_module_uses_a_name_it_does_not_define():
    """pyflakes' undefined names, in the package and the tests: a name used without its import
    passes every test that does not reach that line."""
    from pyflakes import api as pyflakes_api
    from pyflakes import messages
    from pyflakes.reporter import Reporter

    class Collect(Reporter):
        def __init__(self):
            super().__init__(None, None)
            self.found = []

        def flake(self, message):
            if isinstance(message, (messages.UndefinedName, messages.UndefinedLocal,
                                    messages.UndefinedExport)):
                self.found.append(str(message))

        def syntaxError(self, filename, msg, lineno, offset, text):
            self.found.append(f"{filename}:{lineno}: {msg}")

        def unexpectedError(self, filename, msg):
            self.found.append(f"{filename}: {msg}")

    collected = Collect()
    for folder in (PACKAGE, ROOT / "tests", ROOT / "benchmarks"):
        pyflakes_api.checkRecursive([str(folder)], collected)
    assert collected.found == []
