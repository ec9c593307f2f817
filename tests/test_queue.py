"""scripts/queue.sh: commands run one after another; stop ends the runner and what it started and puts the
interrupted command back at the head of the queue, so that start carries on where the queue was."""
import os
import subprocess
import time
from pathlib import Path

import pytest

QUEUE = Path(__file__).resolve().parents[1] / "scripts" / "queue.sh"


def _queue(tmp_path, *args):
    # waits for nothing on this machine (a real sweep may be training), keeps its files in tmp_path
    env = os.environ | {"QUEUE_DIR": str(tmp_path), "LTH_QUEUE_WAIT_PATTERN": "no-such-process-lth-queue-test"}
    return subprocess.run(["bash", str(QUEUE), *args], env=env, capture_output=True, text=True, timeout=60)


def _wait_for(predicate, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_the_queue_runs_in_order_and_stop_requeues_the_interrupted_command(tmp_path):
    marks = tmp_path / "marks"
    first, second, third = (f"echo {n} >> {marks}" for n in ("first", "second", "third"))
    slow = f"echo slow-started >> {marks}; sleep 300; echo slow-finished >> {marks}"
    for cmd in (first, second, slow, third):
        assert _queue(tmp_path, "add", cmd).returncode == 0
    assert _queue(tmp_path, "start").returncode == 0
    assert _wait_for(lambda: marks.exists() and "slow-started" in marks.read_text())
    assert marks.read_text().split() == ["first", "second", "slow-started"]
    listed = _queue(tmp_path, "list").stdout.splitlines()
    assert listed == [f"running: {slow}", third]
    assert "already running" in _queue(tmp_path, "start").stderr

    stopped = _queue(tmp_path, "stop")
    assert stopped.returncode == 0 and f"back at the head of the queue: {slow}" in stopped.stdout
    assert (tmp_path / "queue.txt").read_text().splitlines() == [slow, third]
    time.sleep(1)
    assert "slow-finished" not in marks.read_text()  # the sleep it started was ended with it
    assert "no queue runner running" in _queue(tmp_path, "stop").stdout


@pytest.mark.parametrize("args, message", [(["add"], "give the command to queue"), (["go"], "got 'go'")])
def test_bad_use_is_named(tmp_path, args, message):
    result = _queue(tmp_path, *args)
    assert result.returncode == 2 and message in result.stderr
