"""Probe, profiles and selection: simulated hosts for every shipped profile, and the real probe here."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edgevid.devices import probe, profiles
from edgevid.devices.probe import Cpu, Host
from edgevid.errors import BackendUnavailableError, ConfigError, DeviceUnavailableError, ModelNotFoundError
from edgevid.models.select import choose
from edgevid.registry import get_registry

X86_CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model\t\t: 143
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu vme sse sse2 avx avx2 fma avx512f avx512bw avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8

processor\t: 1
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu vme sse sse2 avx avx2 fma avx512f avx512bw avx512_vnni avx512_bf16 amx_bf16 amx_tile amx_int8
"""
PI5_CPUINFO = """processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
CPU implementer\t: 0x41
CPU part\t: 0xd0b

processor\t: 1
Features\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp
CPU implementer\t: 0x41
CPU part\t: 0xd0b

Model\t\t: Raspberry Pi 5 Model B Rev 1.0
"""


def fake_root(tmp_path: Path, cpuinfo: str, board: str = "", nodes: tuple[str, ...] = ()) -> Path:
    (tmp_path / "proc").mkdir(parents=True)
    (tmp_path / "proc/cpuinfo").write_text(cpuinfo)
    (tmp_path / "proc/meminfo").write_text("MemTotal:        8123456 kB\n")
    if board:
        (tmp_path / "proc/device-tree").mkdir()
        (tmp_path / "proc/device-tree/model").write_text(board + "\x00")
    for node in nodes:
        (tmp_path / node).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / node).write_text("")
    return tmp_path


def test_x86_cpuinfo_features(tmp_path):
    cpu = probe.probe_cpu(fake_root(tmp_path, X86_CPUINFO), arch="x86_64")
    assert cpu.vendor == "GenuineIntel" and "Xeon" in cpu.model and cpu.cores == 2
    assert cpu.family == "6/143" and cpu.board == ""
    assert {"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx", "amx_int8"} <= set(cpu.features)


def test_arm_cpuinfo_features_and_board(tmp_path):
    root = fake_root(tmp_path, PI5_CPUINFO, board="Raspberry Pi 5 Model B Rev 1.0")
    cpu = probe.probe_cpu(root, arch="aarch64")
    assert {"neon", "dotprod", "fp16"} <= set(cpu.features) and "i8mm" not in cpu.features
    assert cpu.board.startswith("Raspberry Pi 5") and cpu.cores == 2
    assert probe.probe(root, arch="aarch64", backends=False).memory_mb == 8123456 // 1024


def test_accelerators_from_device_nodes(tmp_path):
    root = fake_root(tmp_path, X86_CPUINFO, nodes=("dev/accel/accel0", "dev/apex_0", "etc/nv_tegra_release"))
    found = probe.probe_accelerators(root)
    assert {"intel-npu", "edgetpu-pcie", "jetson"} <= set(found)
    usb = tmp_path / "sys/bus/usb/devices/2-1"
    usb.mkdir(parents=True)
    (usb / "idVendor").write_text("18d1\n")
    (usb / "idProduct").write_text("9302\n")
    assert "edgetpu-usb" in probe.probe_accelerators(root)


def test_every_shipped_profile_loads_and_at_least_eight_real_targets():
    profs = profiles.load_all()
    assert len(profs) >= 8
    for needed in ("x86-avx2", "x86-avx512", "intel-core-ultra", "raspberry-pi-4", "raspberry-pi-5",
                   "jetson-orin-nano", "coral-edgetpu", "nxp-imx8mp", "rockchip-rk3588"):
        assert needed in profs
    for p in profs.values():
        assert p.prefer and all(pref.why for pref in p.prefer)


def test_bad_profile_is_a_config_error_naming_file_and_key(tmp_path, monkeypatch):
    (tmp_path / "bad.toml").write_text('id = "x"\nname = "x"\n[match]\nflavour = 1\n[[prefer]]\nbackend="tflite"\n')
    with pytest.raises(ConfigError, match=r"bad.toml: unknown match key\(s\) \['flavour'\]"):
        profiles.parse(tmp_path / "bad.toml")
    (tmp_path / "bad.toml").write_text('id = "x"\nname = "x"\n[match]\n[[prefer]]\nbackend="tflite"\ndevice="CPU"\n')
    with pytest.raises(ConfigError, match=r"prefer\[0\] is missing 'why'"):
        profiles.parse(tmp_path / "bad.toml")


def host(arch, features=(), accelerators=(), board="", model="", devices=None) -> Host:
    """A simulated probe: CPU facts, accelerators, and which devices each runtime offers."""
    devices = devices or {"tflite": ["CPU"], "onnxruntime": ["CPU"], "openvino": ["CPU", "AUTO"]}
    return Host(cpu=Cpu(arch=arch, model=model, features=list(features), cores=4, board=board),
                accelerators={a: a for a in accelerators},
                backends={b: {"available": True, "version": "x", "devices": d} for b, d in devices.items()})


SIMULATED = {
    "generic": host("riscv64"),
    "x86-avx2": host("x86_64", ["avx2", "fma"]),
    "x86-avx512": host("x86_64", ["avx2", "avx512f", "avx512_vnni", "avx512_bf16"]),
    "intel-core-ultra": host("x86_64", ["avx2", "avx_vnni"], ["intel-npu", "gpu-render"],
                             devices={"openvino": ["CPU", "GPU", "NPU", "AUTO"], "tflite": ["CPU"], "onnxruntime": ["CPU"]}),
    "raspberry-pi-4": host("aarch64", ["neon"], board="Raspberry Pi 4 Model B Rev 1.5"),
    "raspberry-pi-5": host("aarch64", ["neon", "dotprod"], board="Raspberry Pi 5 Model B Rev 1.0"),
    "jetson-orin-nano": host("aarch64", ["neon", "dotprod"], ["jetson", "nvidia-gpu"],
                             devices={"onnxruntime": ["CPU", "CUDA", "TENSORRT"], "tflite": ["CPU"]}),
    "coral-edgetpu": host("aarch64", ["neon"], ["edgetpu-usb"], devices={"tflite": ["CPU", "EDGETPU"]}),
    "nxp-imx8mp": host("aarch64", ["neon"], ["imx-npu"], board="NXP i.MX8MPlus EVK board",
                       devices={"tflite": ["CPU", "NPU"]}),
    "rockchip-rk3588": host("aarch64", ["neon", "dotprod"], ["rockchip-npu"], board="Radxa ROCK 5B (RK3588)"),
    "arm64-generic": host("aarch64", ["neon"]),
}
#: profile -> (face model backend/device, text detector backend/device) the selection must give
EXPECTED = {
    "generic": (("tflite", "CPU"), ("onnxruntime", "CPU")),
    "x86-avx2": (("openvino", "CPU"), ("openvino", "CPU")),
    "x86-avx512": (("openvino", "CPU"), ("openvino", "CPU")),
    "intel-core-ultra": (("openvino", "NPU"), ("openvino", "NPU")),
    "raspberry-pi-4": (("tflite", "CPU"), ("onnxruntime", "CPU")),
    "raspberry-pi-5": (("tflite", "CPU"), ("onnxruntime", "CPU")),
    "jetson-orin-nano": (("tflite", "CPU"), ("onnxruntime", "TENSORRT")),
    "coral-edgetpu": (("tflite", "CPU"), None),  # no ONNX runtime on the board and no EdgeTPU variant yet
    "nxp-imx8mp": (("tflite", "CPU"), None),
    "rockchip-rk3588": (("tflite", "CPU"), ("onnxruntime", "CPU")),
    "arm64-generic": (("tflite", "CPU"), ("onnxruntime", "CPU")),
}


@pytest.mark.parametrize("profile_id", sorted(SIMULATED))
def test_simulated_host_matches_its_profile_and_selection_follows_it(profile_id):
    h = SIMULATED[profile_id]
    prof, why = profiles.match(h)
    assert prof.id == profile_id, why
    reg = get_registry()
    face_card = reg.task("face").models["short"]
    text_card = reg.task("text").models["detector"]
    c = choose(face_card, registry=reg, host=h)
    assert (c.backend, c.device) == EXPECTED[profile_id][0], c.why
    assert c.profile == profile_id and profile_id in c.why
    if EXPECTED[profile_id][1] is None:
        with pytest.raises(ConfigError, match="no backend can run"):
            choose(text_card, registry=reg, host=h)
    else:
        c = choose(text_card, registry=reg, host=h)
        assert (c.backend, c.device) == EXPECTED[profile_id][1], [r.reason for r in c.rejected]


def test_rejections_say_why():
    reg = get_registry()
    h = SIMULATED["raspberry-pi-5"]
    c = choose(reg.task("text").models["detector"], registry=reg, host=h)
    reasons = {(r.backend, r.variant): r.reason for r in c.rejected}
    assert reasons[("tflite", "fp32")] == "tflite does not read onnx"


def test_pins_are_honoured_or_rejected_loudly():
    reg = get_registry()
    card = reg.task("face").models["short"]
    h = SIMULATED["x86-avx512"]
    c = choose(card, registry=reg, host=h, backend="tflite", threads=1, precision="f32")
    assert (c.backend, c.device, c.threads, c.precision) == ("tflite", "CPU", 1, "f32")
    no_ov = host("x86_64", ["avx2"], devices={"tflite": ["CPU"]})
    no_ov.backends["openvino"] = {"available": False, "version": None, "devices": []}
    with pytest.raises(BackendUnavailableError, match="pip install 'edgevid\\[openvino\\]'"):
        choose(card, registry=reg, host=no_ov, backend="openvino")
    with pytest.raises(DeviceUnavailableError, match="NPU"):
        choose(card, registry=reg, host=h, device="NPU")
    with pytest.raises(ModelNotFoundError, match="no variant .int4."):
        choose(card, registry=reg, host=h, variant="int4")
    with pytest.raises(ConfigError, match="unknown device profile"):
        choose(card, registry=reg, host=h, profile="toaster")


def test_measured_best_goes_first_unless_pinned(tmp_path, monkeypatch):
    monkeypatch.setenv("EDGEVID_HOME", str(tmp_path))
    reg = get_registry()
    card = reg.task("face").models["short"]
    h = SIMULATED["x86-avx512"]
    monkeypatch.setattr(probe, "this_host", lambda: h)  # measurements apply to this machine only
    assert choose(card, registry=reg).backend == "openvino"
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench/recommended.json").write_text(json.dumps(
        {card.id: {"backend": "tflite", "device": "CPU", "variant": "fp32", "why": "bench: 0.7 ms p50"}}))
    c = choose(card, registry=reg)
    assert c.backend == "tflite" and "bench: 0.7 ms" in c.why
    assert choose(card, registry=reg, backend="openvino").backend == "openvino"
    assert choose(card, registry=reg, host=h).backend == "openvino"  # a simulated host ignores them


def test_real_probe_on_this_host():
    h = probe.probe("/")
    assert h.cpu.arch and h.cpu.cores >= 1 and h.memory_mb and h.memory_mb > 100
    assert h.backends["onnxruntime"]["available"] and "CPU" in h.backends["openvino"]["devices"]
    if Path("/proc/cpuinfo").read_text().count("avx2"):
        assert h.has("avx2")
    prof, _ = profiles.match(h)
    assert prof.id in profiles.load_all()


def test_devices_json_cli():
    proc = subprocess.run([sys.executable, "-m", "edgevid", "devices", "--json"], capture_output=True, text=True,
                          timeout=120, env={**os.environ})
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert {"cpu", "memory_mb", "accelerators", "backends", "profile"} <= set(data)
    assert {"arch", "vendor", "model", "features", "cores"} <= set(data["cpu"])
    assert data["backends"]["tflite"]["version"] and data["profile"]["id"]


def test_explain_cli_lists_rejections():
    proc = subprocess.run([sys.executable, "-m", "edgevid", "explain", "text", "--device", "coral-edgetpu", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    det = json.loads(proc.stdout)["detector"]
    assert det["backend"] in ("onnxruntime", "openvino")
    assert any(r["reason"] == "tflite does not read onnx" for r in det["rejected"])
