"""Shard writers in forked worker processes that are watched, not trusted to stay alive.

Each worker takes one task at a time over its own pipe and publishes, in shared memory, the
image it is on (its name, NUL-terminated, copied into the worker's slot: about a microsecond an
image). A worker that raises an odwrap error passes it on; one that raises anything else,
crashes, or is killed (SIGKILL, the OOM killer) closes its pipe, and the run fails at once
with a RunError naming the shard and the image: never a hang, as multiprocessing.Pool would.
"""

import multiprocessing
import signal
from dataclasses import dataclass
from multiprocessing import connection

from odwrap.errors import OdwrapError, RunError

SLOT = 1024  # bytes of the image name each worker publishes
POLL_SECONDS = 0.1  # how often progress is reported while waiting


@dataclass
class _Worker:
    process: object
    conn: object
    slot: int
    task: int | None = None  # index of the task it is on


def run_in_process(tasks, write, on_progress, on_result=None) -> list:
    """write(task, on_sample) for each task here, in order (one worker); ON_RESULT(result)
    hears of each result as it comes."""
    done = 0

    def on_sample(_image: str) -> None:
        nonlocal done
        done += 1

    results = []
    for task in tasks:
        results.append(write(task, on_sample))
        on_progress(done)
        if on_result is not None:
            on_result(results[-1])
    return results


def _serve(tasks, write, conn, others, counter, names, slot) -> None:
    """A worker's loop: receive a task index, write it, send the result; None ends it."""
    for other in others:  # the parent's ends of the other workers' pipes
        other.close()
    start = slot * SLOT
    view = memoryview(names).cast("B")  # a copy of the name's bytes, not an item at a time

    def on_sample(image: str) -> None:
        data = image.encode("utf-8", "replace")[:SLOT - 1] + b"\0"
        view[start:start + len(data)] = data
        with counter.get_lock():
            counter.value += 1

    while True:
        try:
            index = conn.recv()
        except EOFError:  # the parent is gone
            return
        if index is None:
            return
        try:
            conn.send(("ok", write(tasks[index], on_sample)))
        except OdwrapError as exc:
            conn.send(("error", exc))
            return
        except BaseException as exc:  # noqa: BLE001 (reported as the worker's failure)
            conn.send(("crash", f"{type(exc).__name__}: {exc}"))
            return


def _how(exitcode) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    return f"exited with code {exitcode}"


def run_in_workers(tasks, write, workers: int, on_progress, on_result=None) -> list:
    """write(task, on_sample) for each task in up to WORKERS forked processes; the results in
    task order, whatever order they finish in. ON_RESULT(result) hears of each result here as
    it comes, once its worker has the next task."""
    context = multiprocessing.get_context("fork")
    counter = context.Value("q", 0)
    names = context.Array("c", SLOT * workers, lock=False)  # a slot per worker, its own
    results: list = [None] * len(tasks)
    pending = iter(range(len(tasks)))
    pool: list[_Worker] = []

    def image_of(worker: _Worker) -> str:
        raw = names[worker.slot * SLOT:(worker.slot + 1) * SLOT].split(b"\0", 1)[0]
        return raw.decode("utf-8", "replace") if raw else "(before its first image)"

    def failure(worker: _Worker, how: str) -> RunError:
        shard = tasks[worker.task].path
        return RunError(f"{shard}: the worker writing it {how} on image {image_of(worker)}; "
                        "the shards already complete are kept, rerun to resume")

    def give(worker: _Worker) -> None:
        worker.task = next(pending, None)
        names[worker.slot * SLOT] = b"\0"  # no name: before its first image
        worker.conn.send(worker.task)

    try:
        for slot in range(min(workers, len(tasks))):
            parent_end, child_end = context.Pipe()
            process = context.Process(
                target=_serve, daemon=True,
                args=(tasks, write, child_end, [w.conn for w in pool], counter, names, slot))
            process.start()
            child_end.close()
            pool.append(_Worker(process, parent_end, slot))
        for worker in pool:
            give(worker)
        while any(worker.task is not None for worker in pool):
            busy = {worker.conn: worker for worker in pool if worker.task is not None}
            ready = connection.wait(list(busy), timeout=POLL_SECONDS)
            on_progress(counter.value)
            for conn in ready:
                worker = busy[conn]
                try:
                    kind, payload = conn.recv()
                except (EOFError, OSError):
                    worker.process.join(5)
                    raise failure(worker, _how(worker.process.exitcode)) from None
                if kind == "error":
                    raise payload
                if kind == "crash":
                    raise failure(worker, f"failed ({payload})")
                results[worker.task] = payload
                try:
                    give(worker)
                except OSError:  # it died between two shards
                    worker.process.join(5)
                    raise failure(worker, _how(worker.process.exitcode)) from None
                if on_result is not None:
                    on_result(payload)
        on_progress(counter.value)
        return results
    finally:
        for worker in pool:
            if worker.process.is_alive() and worker.task is not None:
                worker.process.kill()
            worker.process.join(5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join()
            worker.conn.close()
