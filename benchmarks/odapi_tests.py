"""The OD API's own TF2 unit tests, as the package ships them, in one of odwrap's venvs: per test
file, how many tests passed, failed, errored and were skipped, and whether the file imports.

The files: every `*_test.py` of anchor_generators, box_coders, builders, core, data_decoders,
matchers, meta_architectures, predictors and utils, `models/*tf2_test.py`, and the top-level
`*tf2_test.py`, `inputs_test.py` and `eval_util_test.py`, less the TF1-only `*_tf1_test.py`
(104 files in the 2.8.0.post1 package). A file is green when it imports and nothing in it fails.

  --fixes (default): as a program in the venv runs (the venv's import hook applies odwrap's
      fixes, tests/odapi/upstream_plugin.py adapts the three test-code differences of NumPy 2);
  --no-fixes: ODWRAP_COMPAT_DISABLE=all and no plugin: what a plain `pytest` got before odwrap.

    .venv/bin/python benchmarks/odapi_tests.py [--venv .venv] [--no-fixes] [-n 2]
        [-o build/odapi-tests/NAME.json] [--markdown] [FILE ...]
FILE: a test file relative to object_detection/ (default: all of them). About 26 minutes a run
on 2 cores. --markdown prints the README's table row of each JSON given with --table.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from defusedxml import ElementTree

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("anchor_generators", "box_coders", "builders", "core", "data_decoders", "matchers",
           "meta_architectures", "predictors", "utils")
PLUGIN = "tests.odapi.upstream_plugin"
VERSIONS = """
from importlib import metadata
found = []
for names in (("tensorflow-cpu", "tensorflow"), ("numpy",), ("protobuf",)):
    for name in names:
        try:
            found.append(f"{name} {metadata.version(name)}")
            break
        except metadata.PackageNotFoundError:
            pass
print(", ".join(found))
"""


def package_dir(python: Path) -> Path:
    done = subprocess.run(
        [str(python), "-c", "import importlib.util as u; "
                            "print(u.find_spec('object_detection').submodule_search_locations[0])"],
        capture_output=True, text=True, check=True, env={**os.environ,
                                                         "ODWRAP_COMPAT_DISABLE": "all"})
    return Path(done.stdout.strip())


def test_files(package: Path) -> list[str]:
    """The measured files, relative to PACKAGE (object_detection/)."""
    found = [path for folder in FOLDERS for path in (package / folder).glob("*_test.py")]
    found += list((package / "models").glob("*tf2_test.py"))
    found += list(package.glob("*tf2_test.py"))
    found += [package / name for name in ("inputs_test.py", "eval_util_test.py")]
    return sorted({path.relative_to(package).as_posix() for path in found
                   if path.exists() and not path.name.endswith("_tf1_test.py")})


def _module(name: str) -> str:
    """'utils/ops_test.py' -> 'object_detection.utils.ops_test', as JUnit names its class."""
    return "object_detection." + name.removesuffix(".py").replace("/", ".")


def _why(case) -> str:
    """The first line of a test case's failure or error."""
    found = next(child for child in case if child.tag in ("failure", "error"))
    lines = (found.get("message") or found.text or "").strip().splitlines()
    return (lines or [""])[0][:300]


def per_file(report: Path, files: list[str]) -> dict:
    """{file: {passed, failed, errors, skipped, imports}} from pytest's JUnit XML."""
    counts = {name: Counter() for name in files}
    broken, failures, seconds = set(), {}, Counter()
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        classname = case.get("classname", "")
        kinds = {child.tag for child in case}
        if not classname:  # a collection error: the file does not import
            name = (case.get("file") or "").removeprefix("object_detection/")
            if name in counts:
                broken.add(name)
                failures.setdefault(name, []).append(_why(case))
            continue
        name = next((f for f in files if classname == _module(f)
                     or classname.startswith(_module(f) + ".")), None)
        if name is None:
            continue
        outcome = "failed" if "failure" in kinds else "errors" if "error" in kinds else \
            "skipped" if "skipped" in kinds else "passed"
        counts[name][outcome] += 1
        seconds[name] += float(case.get("time") or 0)
        if outcome in ("failed", "errors"):
            failures.setdefault(name, []).append(
                f"{classname.rsplit('.', 1)[-1]}.{case.get('name')}: {_why(case)}")
    return {name: {"passed": c["passed"], "failed": c["failed"], "errors": c["errors"],
                   "skipped": c["skipped"], "imports": name not in broken,
                   "green": name not in broken and not c["failed"] and not c["errors"],
                   "seconds": round(seconds[name], 1), "failures": failures.get(name, [])}
            for name, c in counts.items()}


def run(venv: Path, fixes: bool, workers: int, files: list[str] | None) -> dict:
    venv = venv.absolute()  # pytest runs in a scratch folder
    python = venv / "bin" / "python"
    package = package_dir(python)
    known = test_files(package)
    unknown = [name for name in files or () if not (package / name).is_file()]
    if unknown:
        sys.exit(f"{package}: no test file {unknown[0]}")
    files = files or known
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop("ODWRAP_COMPAT_DISABLE", None)
    if not fixes:
        env["ODWRAP_COMPAT_DISABLE"] = "all"
    with tempfile.TemporaryDirectory(prefix="odapi-tests-") as tmp:
        ini = Path(tmp) / "pytest.ini"
        ini.write_text("[pytest]\n")  # not odwrap's own pytest.ini and conftest
        report = Path(tmp) / "junit.xml"
        command = [str(python), "-m", "pytest", "-c", str(ini), "--rootdir", str(package.parent),
                   "-p", "no:cacheprovider", "-q", "--junitxml", str(report),
                   "--continue-on-collection-errors",
                   "-o", "junit_family=xunit1", *(("-p", PLUGIN) if fixes else ()),
                   *(("-n", str(workers), "--dist", "loadfile") if workers > 1 else ()),
                   *[str(package / name) for name in files]]
        started = time.perf_counter()
        done = subprocess.run(command, cwd=tmp, env=env, capture_output=True, text=True,
                              check=False)
        seconds = time.perf_counter() - started
        if not report.exists():
            sys.exit(f"pytest wrote no report (exit {done.returncode}):\n{done.stdout[-3000:]}"
                     f"{done.stderr[-3000:]}")
        results = per_file(report, files)
    versions = subprocess.run([str(python), "-c", VERSIONS], capture_output=True, text=True,
                              check=False).stdout.strip()
    return {"venv": str(venv), "fixes": fixes, "versions": versions,
            "seconds": round(seconds, 1), "files": results, "summary": summary(results)}


def summary(results: dict) -> dict:
    return {"files": len(results), "green": sum(r["green"] for r in results.values()),
            "do_not_import": sum(not r["imports"] for r in results.values()),
            **{key: sum(r[key] for r in results.values())
               for key in ("passed", "failed", "errors", "skipped")}}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", help="test files relative to object_detection/")
    parser.add_argument("--venv", type=Path, default=ROOT / ".venv")
    parser.add_argument("--no-fixes", dest="fixes", action="store_false")
    parser.add_argument("-n", "--workers", type=int, default=2)
    parser.add_argument("-o", "--output", type=Path)
    parser.add_argument("--table", type=Path, nargs="+", metavar="JSON",
                        help="print the README's table of these results instead of running")
    args = parser.parse_args(argv)
    if args.table:
        print("| venv | test files green (of N) | tests passed | failed or errors | "
              "files that fail to import |\n|---|---|---|---|---|")
        for path in args.table:
            result = json.loads(path.read_text())
            total = result["summary"]
            print(f"| {result['versions']}, {'with' if result['fixes'] else 'without'} "
                  f"odwrap's fixes | {total['green']} (of {total['files']}) | {total['passed']} "
                  f"| {total['failed'] + total['errors']} | {total['do_not_import']} |")
        return 0
    result = run(args.venv, args.fixes, args.workers, args.files)
    text = json.dumps(result, indent=1)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
    print(json.dumps({key: result[key] for key in ("venv", "fixes", "versions", "seconds",
                                                  "summary")}, indent=1))
    red = [name for name, r in result["files"].items() if not r["green"]]
    print("not green:", *red, sep="\n  ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
