"""Hardware detection (fake NVML shaped by a real H100 reading), GPU profiles and budgets."""

from __future__ import annotations

import json

import pytest
from fake_nvml import READING, FakeNVML

import hardware
from hardware import UnknownGpu
from hardware.known import find_gpu


def test_nvml_detection_uses_free_memory_and_bandwidth() -> None:
    hw = hardware.detect(FakeNVML())  # type: ignore[arg-type]
    assert hw.source == "detected"
    (g,) = hw.gpus
    v2 = READING["devices"][0]["memory_info_v2"]
    assert g.name == "NVIDIA H100 80GB HBM3"
    assert g.memory_total_bytes == v2["total"] and g.memory_free_bytes == v2["free"]
    assert g.bandwidth_bytes_per_s == 5120 // 8 * 2619 * 1_000_000 * 2  # 3.35 TB/s, the spec
    assert g.compute_capability == "9.0" and g.driver_version == "580.159.04"


def test_per_field_failures_degrade() -> None:
    hw = hardware.detect(FakeNVML(fail=("memory_v2", "clock")))  # type: ignore[arg-type]
    (g,) = hw.gpus
    assert g.memory_free_bytes == READING["devices"][0]["memory_info_v1"]["free"]
    assert g.bandwidth_bytes_per_s is None


def test_no_driver_falls_back_to_cpu_only() -> None:
    hw = hardware.detect(FakeNVML(init_error=True))  # type: ignore[arg-type]
    assert hw.gpus == () and any("NVML init failed" in n for n in hw.notes)
    assert hw.ram_total_bytes is None or hw.ram_total_bytes > 0


def test_gpu_profiles() -> None:
    g = find_gpu("rtx 3060")
    assert g.memory_total_bytes == 12 << 30 and g.bandwidth_bytes_per_s == 360_000_000_000
    assert find_gpu("NVIDIA GeForce RTX 3060 12GB").name == g.name
    with pytest.raises(UnknownGpu):
        find_gpu("RTX 9999")
    with pytest.raises(UnknownGpu, match="ambiguous"):
        find_gpu("RTX 30")
    assert find_gpu("rtx 3060 8gb").memory_total_bytes == 8 << 30
    mac = find_gpu("Apple M3 Max 128GB")
    assert mac.memory_free_bytes == int((128 << 30) * 0.75) < mac.memory_total_bytes
    with pytest.raises(UnknownGpu):
        find_gpu("RTX 3060 24GB")


def test_hw_command_json(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("hw", "--gpu", "RTX 3060", "--gpu", "RTX 3060", "--ram", "32", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["source"] == "profile" and len(doc["gpus"]) == 2
    assert doc["ram_total_bytes"] == 32 << 30


GIB = 1 << 30


def _card(root, name: str, vendor: str, driver: str, files: dict[str, int | str]) -> None:  # type: ignore[no-untyped-def]
    dev = root / name / "device"
    dev.mkdir(parents=True)
    (dev / "vendor").write_text(vendor + "\n")
    drv = root / "drivers" / driver
    drv.mkdir(parents=True, exist_ok=True)
    (dev / "driver").symlink_to(drv)
    for k, v in files.items():
        (dev / k).write_text(f"{v}\n")


def test_mig_instances_are_the_gpus_a_process_can_use() -> None:
    name = "NVIDIA H100 80GB HBM3 MIG 3g.40gb"
    mig = [(name, 40 * GIB, 39 * GIB), (name, 40 * GIB, 40 * GIB)]
    hw = hardware.detect(FakeNVML(mig=mig))  # type: ignore[arg-type]
    assert [g.name for g in hw.gpus] == [m[0] for m in mig]
    assert [g.memory_free_bytes for g in hw.gpus] == [39 * GIB, 40 * GIB]
    assert all("MIG" in g.source for g in hw.gpus)


def test_several_nvidia_gpus() -> None:
    hw = hardware.detect(FakeNVML(copies=2))  # type: ignore[arg-type]
    assert len(hw.gpus) == 2 and hw.vram_total_bytes == 2 * READING["devices"][0]["memory_info_v2"]["total"]


def test_amd_from_sysfs_skips_the_integrated_gpu(tmp_path) -> None:  # type: ignore[no-untyped-def]
    _card(tmp_path, "card0", "0x1002", "amdgpu", {"mem_info_vram_total": 512 << 20, "mem_info_vram_used": 0,
                                                  "mem_info_gtt_total": 16 * GIB, "product_name": "AMD Radeon 780M"})
    xtx = {"mem_info_vram_total": 24 * GIB, "mem_info_vram_used": GIB, "mem_info_gtt_total": 16 * GIB,
           "product_name": "AMD Radeon RX 7900 XTX"}
    _card(tmp_path, "card1", "0x1002", "amdgpu", xtx)
    _card(tmp_path, "card2", "0x8086", "xe", {})
    (tmp_path / "card1-DP-1").mkdir()  # connectors are not cards
    no_nvml = FakeNVML(init_error=True)
    hw = hardware.detect(no_nvml, _NoAmdsmi(), drm_root=str(tmp_path), platform="linux")  # type: ignore[arg-type]
    (g,) = hw.gpus
    assert g.name == "AMD Radeon RX 7900 XTX" and g.vendor == "amd"
    assert g.memory_total_bytes == 24 * GIB and g.memory_free_bytes == 23 * GIB
    assert any("integrated" in n for n in hw.notes) and any("exposes no VRAM size" in n for n in hw.notes)
    assert any("NVML init failed" in n for n in hw.notes)


class _NoAmdsmi:
    def amdsmi_init(self) -> None:
        raise RuntimeError("no ROCm")


class _FakeAmdsmi:
    def amdsmi_init(self) -> None:
        pass

    def amdsmi_shut_down(self) -> None:
        pass

    def amdsmi_get_processor_handles(self) -> list[int]:
        return [0, 1]

    def amdsmi_get_gpu_vram_usage(self, h: int) -> dict[str, int]:
        if h == 1:
            raise RuntimeError("query failed mid-way")
        return {"vram_total": 196592, "vram_used": 592}  # MB, as amdsmi reports

    def amdsmi_get_gpu_asic_info(self, h: int) -> dict[str, str]:
        return {"market_name": "AMD Instinct MI300X"}


def test_amdsmi_reports_mb_and_survives_a_failing_card(tmp_path) -> None:  # type: ignore[no-untyped-def]
    hw = hardware.detect(FakeNVML(init_error=True), _FakeAmdsmi(), drm_root=str(tmp_path), platform="linux")  # type: ignore[arg-type]
    (g,) = hw.gpus
    assert g.name == "AMD Instinct MI300X" and g.memory_total_bytes == 196592 << 20
    assert g.memory_free_bytes == 196000 << 20 and g.source == "amdsmi"


def _sysctl(values: dict[str, str]):  # type: ignore[no-untyped-def]
    return lambda key: values.get(key)


def test_apple_silicon_unified_memory() -> None:
    values = {"hw.memsize": str(36 * GIB), "machdep.cpu.brand_string": "Apple M3 Max", "iogpu.wired_limit_mb": "0"}
    hw = hardware.detect(FakeNVML(init_error=True), _NoAmdsmi(), sysctl=_sysctl(values), platform="darwin")  # type: ignore[arg-type]
    (g,) = hw.gpus
    assert g.vendor == "apple" and g.memory_total_bytes == 36 * GIB
    assert g.memory_free_bytes == int(36 * GIB * 0.67)
    assert g.bandwidth_bytes_per_s == 300 * 10**9  # the 36 GB M3 Max is the 30-core GPU part (data/gpus.jsonl)
    assert hw.ram_total_bytes == 36 * GIB
    values["iogpu.wired_limit_mb"] = str(30 * 1024)
    hw = hardware.detect(FakeNVML(init_error=True), _NoAmdsmi(), sysctl=_sysctl(values), platform="darwin")  # type: ignore[arg-type]
    assert hw.gpus[0].memory_free_bytes == 30 * GIB and "wired_limit" in hw.gpus[0].source


def test_nothing_found_is_cpu_only_with_reasons(tmp_path) -> None:  # type: ignore[no-untyped-def]
    hw = hardware.detect(FakeNVML(init_error=True), _NoAmdsmi(), drm_root=str(tmp_path / "missing"), platform="linux")  # type: ignore[arg-type]
    assert hw.gpus == ()
    assert any("NVML" in n for n in hw.notes) and any("amdsmi" in n for n in hw.notes)
    assert any("DRM" in n for n in hw.notes) and any("CPU" in n for n in hw.notes)
