"""Child processes of the benchmark: the sandbox, the app servers, and each row itself.

Everything started here stops by itself: each child runs in its own process group, is stopped when its
``with`` block ends (SIGTERM, then SIGKILL after a grace period), and an ``atexit`` hook stops whatever
is still running if the benchmark itself dies. Nothing listens anywhere but 127.0.0.1.
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent

_running: set[subprocess.Popen[str]] = set()


def _stop(process: subprocess.Popen[str], grace: float = 5.0) -> None:
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(grace)
    for stream in (process.stdout, process.stderr):
        if stream:
            stream.close()
    _running.discard(process)


@atexit.register
def _stop_all() -> None:
    for process in list(_running):
        _stop(process, grace=2.0)


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child: this repository importable, no inherited Django settings."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class Child:
    """A running child process whose first line of output is JSON describing it (a URL, credentials)."""

    def __init__(
        self,
        argv: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        ready_timeout: float = 60.0,
        name: str = "child",
        interactive: bool = False,
    ) -> None:
        self.name = name
        self.process = subprocess.Popen(
            list(argv),
            cwd=REPO,
            env=env or child_env(),
            stdin=subprocess.PIPE if interactive else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        _running.add(self.process)
        self._stderr: list[str] = []
        threading.Thread(target=self._drain_stderr, daemon=True, name=f"{name}-stderr").start()
        self.info = self._first_line(ready_timeout)

    def _drain_stderr(self) -> None:
        # A child writing more than a pipe buffer of logs would block forever if nobody read them.
        assert self.process.stderr is not None
        for line in self.process.stderr:
            if len(self._stderr) < 200:
                self._stderr.append(line)

    def _first_line(self, timeout: float) -> dict[str, Any]:
        box: list[str] = []
        reader = threading.Thread(
            target=lambda: box.append(self.process.stdout.readline()), daemon=True  # type: ignore[union-attr]
        )
        reader.start()
        reader.join(timeout)
        line = box[0] if box else ""
        if not line:
            self.stop()
            raise RuntimeError(f"{self.name} did not start: {''.join(self._stderr)[-2000:]}")
        try:
            return json.loads(line)
        except ValueError:
            self.stop()
            raise RuntimeError(f"{self.name} printed {line[:200]!r} instead of JSON") from None

    def ask(self, line: str, timeout: float = 300.0) -> dict[str, Any]:
        """Send one line to an ``interactive`` child and return the JSON line it answers."""
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        return self._first_line(timeout)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stderr_tail(self) -> str:
        return "".join(self._stderr)[-2000:]

    def stop(self) -> None:
        _stop(self.process)


@contextmanager
def running(argv: Sequence[str], **kwargs: Any) -> Iterator[Child]:
    child = Child(argv, **kwargs)
    try:
        yield child
    finally:
        child.stop()


@contextmanager
def sandbox() -> Iterator[Child]:
    """The sandbox in its own process, on a free port: ``child.info`` is its index (URL, credentials)."""
    with running(
        [sys.executable, "-m", "django_civic.sandbox", "--host", "127.0.0.1", "--port", "0"], name="sandbox"
    ) as child:
        yield child


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of another process so far, from /proc (Linux)."""
    return _cpu_seconds(Path(f"/proc/{pid}/stat").read_text())


def cpu_seconds_by_command(commands: Sequence[str]) -> dict[str, float]:
    """CPU time so far of every process whose command name is one of ``commands``, summed per name.

    For the servers the benchmark does not start itself (PostgreSQL's backends, Redis): a process that
    exits between two readings is missed, one that starts between them counts from zero.
    """
    totals = dict.fromkeys(commands, 0.0)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # it exited while we looked
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        if name in totals:
            totals[name] += _cpu_seconds(stat)
    return totals


def machine_busy_seconds() -> float:
    """CPU time all of this machine's CPUs have spent working so far (user, system, interrupts), from
    /proc/stat (Linux)."""
    ticks = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq = ticks[:7]
    # Not steal (the hypervisor running someone else) nor guest (already counted in user).
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def _cpu_seconds(stat: str) -> float:
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_json(argv: Sequence[str], *, env: dict[str, str] | None = None, timeout: float) -> dict[str, Any]:
    """Run a child to completion and parse the JSON it prints on its last stdout line.

    The child's stderr is passed through, so its progress messages show while it runs.
    """
    started = time.monotonic()
    process = subprocess.Popen(
        list(argv),
        cwd=REPO,
        env=env or child_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=None,
        text=True,
        start_new_session=True,
    )
    _running.add(process)
    try:
        stdout, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _stop(process)
        raise RuntimeError(f"timed out after {time.monotonic() - started:.0f} s") from None
    finally:
        _running.discard(process)
    lines = [line for line in stdout.splitlines() if line.strip()]
    if process.returncode != 0 or not lines:
        raise RuntimeError(f"exited with status {process.returncode} (its error is printed above)")
    return json.loads(lines[-1])
