import pytest

from trtlens.streams.metrics.windows import close_at, is_closed, is_expired, window_start


@pytest.mark.parametrize(
    ("ts_ms", "window_ms", "start"),
    [
        (0, 10_000, 0),
        (9_999, 10_000, 0),
        (10_000, 10_000, 10_000),
        (1_700_000_012_345, 10_000, 1_700_000_010_000),
        (1_700_000_059_999, 60_000, 1_700_000_040_000),
        (5, 1, 5),
        (-1, 10, -10),  # floor, also before the epoch
    ],
)
def test_window_start(ts_ms, window_ms, start):
    assert window_start(ts_ms, window_ms) == start


def test_window_start_rejects_nonpositive_size():
    with pytest.raises(ValueError):
        window_start(5, 0)


@pytest.mark.parametrize(
    ("start", "watermark", "closed", "expired"),
    [
        (0, 14_999, False, False),  # end 10_000 + grace 5_000
        (0, 15_000, True, False),
        (0, 34_999, True, False),  # + late retention 20_000
        (0, 35_000, True, True),
    ],
)
def test_close_and_expire(start, watermark, closed, expired):
    assert close_at(start, 10_000, 5_000) == 15_000
    assert is_closed(start, watermark, 10_000, 5_000) is closed
    assert is_expired(start, watermark, 10_000, 5_000, 20_000) is expired
