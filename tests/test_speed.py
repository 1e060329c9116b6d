"""The one decode-speed model: how devices in a pipeline and in tensor parallel add up, and no guessed speed."""

import pytest

from catalog.core.speed import (
    DECODE_EFFICIENCY,
    parallel_seconds,
    per_second,
    pipeline_seconds,
    read_seconds,
    slowest_bandwidth,
)
from hardware import GPU

GB = 1e9


def test_a_read_takes_bytes_over_the_bandwidth_decoding_reaches() -> None:
    assert read_seconds(3 * GB, 400 * GB) == pytest.approx(3 / (400 * DECODE_EFFICIENCY))


def test_a_pipeline_adds_its_devices_and_tensor_parallel_waits_for_the_slowest() -> None:
    reads = [(4 * GB, 1000 * GB), (2 * GB, 250 * GB)]  # 4 ms and 8 ms of reading at full bandwidth
    one, two = (read_seconds(b, bw) for b, bw in reads)
    assert pipeline_seconds(reads) == pytest.approx(one + two)
    assert parallel_seconds(reads) == pytest.approx(max(one, two)) == pytest.approx(two)


@pytest.mark.parametrize("combine", [pipeline_seconds, parallel_seconds])
def test_an_unknown_bandwidth_gives_no_speed(combine: object) -> None:
    assert combine([(4 * GB, 1000 * GB), (2 * GB, None)]) is None  # type: ignore[operator]


def test_no_device_and_no_time_give_no_speed() -> None:
    assert parallel_seconds([]) is None and per_second(None) is None and per_second(0.0) is None
    assert per_second(0.02) == 50.0


def test_the_slowest_gpu_decides_and_an_unsourced_one_leaves_it_open() -> None:
    fast = GPU("A", "nvidia", 1, 1, 900_000_000_000)
    slow = GPU("B", "nvidia", 1, 1, 300_000_000_000)
    assert slowest_bandwidth([fast, slow]) == 300e9
    assert slowest_bandwidth([fast, GPU("C", "nvidia", 1, 1)]) is None
