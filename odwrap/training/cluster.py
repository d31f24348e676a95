"""Several workers training one model: who they are, and who writes.

A cluster comes from TF_CONFIG (as TensorFlow's own MultiWorkerMirroredStrategy reads it) or from
`train --worker-hosts A,B --task-index N`, which say the same without the environment. The chief
(task type `chief`, else worker 0) alone writes into the model folder: its config, checkpoints,
summaries and lock. Every other worker restores from that folder and saves what the strategy makes
it save into a scratch folder of its own, removed at the end (MultiWorkerMirroredStrategy needs
every worker to take part in a save). The model folder must be one that every worker reads: a
bucket, or a shared file system.

Parsed here without TensorFlow, so that a bad TF_CONFIG is one line before TensorFlow starts.
"""

import json
import os
import re
from dataclasses import dataclass
from typing import ClassVar

from odwrap.errors import InputError

ROLES = ("chief", "worker")  # parameter servers and evaluators are TF1 Estimator's jobs
HOST = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9_.-]+):\d{1,5}$")
MAX_WORKERS = 4096


@dataclass(frozen=True)
class Cluster:
    """The cluster's hosts by task type, and this process's task."""

    hosts: dict  # task type -> ["host:port", ...]
    task_type: str
    task_index: int
    source: str  # "TF_CONFIG" or "--worker-hosts", for messages
    # How long the workers wait for each other at start, and how quickly a worker that stopped
    # answering is noticed: TensorFlow's defaults wait forever, and notice a dead peer only
    # after three checks of 10 s spaced 30 s apart.
    start_seconds: ClassVar[int] = 600
    health_interval_seconds: ClassVar[int] = 5
    health_timeout_seconds: ClassVar[int] = 5
    health_retries: ClassVar[int] = 2

    @property
    def chief(self) -> bool:
        """This process writes the model folder."""
        if "chief" in self.hosts:
            return self.task_type == "chief"
        return self.task_index == 0

    @property
    def size(self) -> int:
        return sum(len(hosts) for hosts in self.hosts.values())

    def every(self) -> list:
        """Every task's host:port, the chief first."""
        return [host for role in ROLES for host in self.hosts.get(role, [])]

    def name(self, task_type: str | None = None, index: int | None = None) -> str:
        """'worker 1 (host:port)': this task, or the one named."""
        task_type = task_type or self.task_type
        index = self.task_index if index is None else index
        return f"{task_type} {index} ({self.hosts[task_type][index]})"

    def peer(self, message: str) -> str:
        """The other task that a TensorFlow error MESSAGE names ('/job:worker/replica:0/task:1'),
        as `name` says it; in a cluster of two, the other one; else 'a worker of the cluster'."""
        me = (self.task_type, self.task_index)
        for job, index in re.findall(r"/job:(\w+)/replica:\d+/task:(\d+)", message):
            if job in self.hosts and int(index) < len(self.hosts[job]) and \
                    (job, int(index)) != me:
                return self.name(job, int(index))
        others = [(job, index) for job in ROLES for index in range(len(self.hosts.get(job, [])))
                  if (job, index) != me]
        return self.name(*others[0]) if len(others) == 1 else "a worker of the cluster"

    def tf_config(self) -> str:
        """The TF_CONFIG that says this cluster and task."""
        return json.dumps({"cluster": self.hosts,
                           "task": {"type": self.task_type, "index": self.task_index}})


def writes_folder(cluster: "Cluster | None") -> bool:
    """Whether this process writes the model folder: it trains alone, or is CLUSTER's chief."""
    return cluster is None or cluster.chief


def _hosts(value, where: str) -> list:
    if not isinstance(value, list) or not value or len(value) > MAX_WORKERS:
        raise InputError(f"{where}: must be a list of 1 to {MAX_WORKERS} 'host:port' strings")
    for host in value:
        if not isinstance(host, str) or not HOST.match(host) or \
                not 0 < int(host.rsplit(":", 1)[1]) < 65536:
            raise InputError(f"{where}: {str(host)[:80]!r} is not 'host:port'")
    if len(set(value)) != len(value):
        raise InputError(f"{where}: a host:port is given twice")
    return value


def parse(text: str, source: str = "TF_CONFIG") -> "Cluster | None":
    """The cluster TEXT (TF_CONFIG's JSON) says; None for one process (no cluster, or a cluster
    of one task); InputError naming SOURCE and the field for anything else."""
    if len(text) > 1 << 20:
        raise InputError(f"{source}: over 1 MiB")
    try:
        config = json.loads(text) if text.strip() else {}
    except (ValueError, RecursionError) as exc:
        raise InputError(f"{source}: not JSON ({str(exc)[:100]})") from None
    if not isinstance(config, dict):
        raise InputError(f"{source}: must be a JSON object with 'cluster' and 'task'")
    cluster = config.get("cluster") or {}
    if not isinstance(cluster, dict):
        raise InputError(f"{source}: 'cluster' must map task types to lists of 'host:port'")
    others = sorted(set(cluster) - set(ROLES))
    if others:
        raise InputError(f"{source}: cluster job {others[0]!r}: odwrap trains with "
                         "MultiWorkerMirroredStrategy, whose jobs are 'chief' and 'worker' "
                         "(parameter servers and evaluators are TF1 Estimator's)")
    hosts = {role: _hosts(cluster[role], f"{source}: cluster.{role}")
             for role in ROLES if role in cluster}
    if len(hosts.get("chief", [])) > 1:
        raise InputError(f"{source}: cluster.chief: one chief at most")
    every = [host for role in ROLES for host in hosts.get(role, [])]
    if len(set(every)) != len(every):
        raise InputError(f"{source}: cluster: a host:port is both chief and worker")
    if len(every) <= 1:
        return None
    task = config.get("task")
    if not isinstance(task, dict):
        raise InputError(f"{source}: 'task' must say this process's {{'type', 'index'}}")
    task_type, index = task.get("type"), task.get("index", 0)
    if task_type not in hosts:
        raise InputError(f"{source}: task.type {str(task_type)[:40]!r} is not a job of the "
                         f"cluster ({', '.join(hosts)})")
    if isinstance(index, bool) or not isinstance(index, int) or \
            not 0 <= index < len(hosts[task_type]):
        raise InputError(f"{source}: task.index {json.dumps(index)[:40]}: the cluster has "
                         f"{len(hosts[task_type])} {task_type} task(s), from 0")
    return Cluster(hosts=hosts, task_type=task_type, task_index=index, source=source)


def from_options(worker_hosts=(), task_index: int | None = None,
                 environ=os.environ) -> "Cluster | None":
    """The cluster of `--worker-hosts`/`--task-index` when given (TF_CONFIG must then be unset),
    else of TF_CONFIG; None for one process."""
    if not worker_hosts:
        if task_index is not None:
            raise InputError("--task-index needs --worker-hosts")
        return parse(environ.get("TF_CONFIG", ""))
    if environ.get("TF_CONFIG", "").strip():
        raise InputError("--worker-hosts: TF_CONFIG is set too; say the cluster once")
    hosts = list(worker_hosts)
    if len(hosts) == 1:
        raise InputError("--worker-hosts: one host is no cluster; leave it out to train alone")
    if task_index is None:
        raise InputError("--worker-hosts needs --task-index (this process's place in the list)")
    text = json.dumps({"cluster": {"worker": hosts},
                       "task": {"type": "worker", "index": task_index}})
    return parse(text, source="--worker-hosts")
