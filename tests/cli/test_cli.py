"""The CLI at the door: catalogue output, and bad input as one line plus a distinct exit code."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from edgevid.errors import ChecksumError, UnknownTaskError


def edgevid(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the real CLI in a fresh interpreter, as a user would."""
    return subprocess.run([sys.executable, "-m", "edgevid", *args], capture_output=True, text=True,
                          timeout=300, env=env)


def assert_one_line_error(proc: subprocess.CompletedProcess, code: int, needle: str) -> None:
    assert proc.returncode == code, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("edgevid:")]
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


def test_list_json_names_every_installed_task_and_backends_that_read_each_variant():
    proc = edgevid("list", "--json")
    assert proc.returncode == 0, proc.stderr
    data = {t["task"]: t for t in json.loads(proc.stdout)}
    assert {"motion", "pose", "text", "orientation"} <= set(data)
    assert data["motion"]["models"] == []
    for model in data["text"]["models"]:
        for v in model["variants"]:
            assert v["format"] == "onnx" and len(v["sha256"]) == 64
            assert v["backends"] == ["onnxruntime", "openvino"]
    for model in data["pose"]["models"]:
        assert all(v["backends"] == ["openvino", "tflite"] for v in model["variants"])


def test_list_unknown_task_is_exit_code_of_unknown_task():
    proc = edgevid("list", "no-such-task")
    assert_one_line_error(proc, UnknownTaskError.exit_code, "unknown task 'no-such-task'")


def test_fetch_of_a_tampered_cache_is_a_checksum_error(tmp_path):
    import os
    import shutil

    from edgevid.models import store
    from edgevid_orientation.card import DIRECTION_CLS

    # copy the verified cache, then corrupt one artifact in the copy
    src = store.home()
    home = tmp_path / "home"
    shutil.copytree(src / "blobs", home / "blobs")
    shutil.copytree(src / "wheels", home / "wheels")
    # the fetched model's own blob: the store also holds built variants under the same file name
    victim = next((home / "blobs" / DIRECTION_CLS.reference.sha256).glob("*.onnx"))
    victim.write_bytes(victim.read_bytes()[:-10] + b"0123456789")
    env = {**os.environ, "EDGEVID_HOME": str(home), "EDGEVID_LOAD_PLUGINS": "orientation"}
    proc = edgevid("fetch", "orientation", env=env)
    assert_one_line_error(proc, ChecksumError.exit_code, "sha256")
    assert not victim.exists()  # the bad file is never kept
    # and the next fetch repairs it from the cached wheel, without the network
    proc = edgevid("fetch", "orientation", env={**env, "PIP_NO_INDEX": "1"})
    assert proc.returncode == 0, proc.stderr
    assert victim.exists()


@pytest.mark.parametrize("argv", [["--version"], ["list", "--help"]])
def test_basic_invocations_exit_zero(argv):
    assert edgevid(*argv).returncode == 0
