"""``edge.refine.crop``: the region around a box, at a classifier's size and aspect."""

from __future__ import annotations

import numpy as np
import pytest

from edge.refine.crop import crop, region


def _ramp(width: int = 200, height: int = 100) -> np.ndarray:
    """Each pixel's value tells its column (x // 2), so a crop shows where it came from."""
    return np.repeat((np.arange(width) // 2).astype(np.uint8)[np.newaxis, :], height, axis=0)


def test_the_region_is_the_box_grown_by_the_context_and_squared() -> None:
    # A 20 x 40 px box (x 90..110, y 30..70) in a 200 x 100 frame, 28 x 28 output:
    # grown 1.4 times -> 28 x 56, squared on the short side -> 56 x 56 about the centre.
    assert region((0.45, 0.3, 0.55, 0.7), (200, 100), (28, 28), 1.4) == (72, 22, 128, 78)
    # A wide output (2:1) widens the tall box's region to twice its height.
    assert region((0.45, 0.3, 0.55, 0.7), (200, 100), (56, 28), 1.4) == (44, 22, 156, 78)


def test_a_crop_shows_the_pixels_around_the_box() -> None:
    image = _ramp()
    piece = crop(image, (0.45, 0.3, 0.55, 0.7), (28, 28), 1.4)
    assert piece.shape == (28, 28) and piece.dtype == np.uint8
    # Columns 72..127 of the frame hold 36..63; shrunk 2x, the crop's left edge ~36, right ~63.
    assert abs(int(piece[14, 0]) - 36) <= 1 and abs(int(piece[14, -1]) - 63) <= 1
    assert np.all(np.diff(piece[14].astype(int)) >= 0)  # still the ramp, left to right


def test_colour_stays_colour_and_grey_stays_grey() -> None:
    grey = _ramp()
    colour = np.dstack([grey, grey // 2, np.full_like(grey, 200)])
    assert crop(grey, (0.1, 0.1, 0.3, 0.3), (16, 16)).shape == (16, 16)
    piece = crop(colour, (0.1, 0.1, 0.3, 0.3), (16, 16))
    assert piece.shape == (16, 16, 3) and np.all(piece[..., 2] == 200)


@pytest.mark.parametrize(
    "box",
    [(0.0, 0.0, 0.05, 0.1), (0.95, 0.9, 1.0, 1.0), (-0.2, 0.4, 0.02, 0.6), (1.2, 1.2, 1.4, 1.5)],
    ids=["top-left corner", "bottom-right corner", "half outside", "wholly outside"],
)
def test_outside_the_frame_the_edge_repeats_instead_of_black_bars(
    box: tuple[float, float, float, float],
) -> None:
    image = np.full((100, 200), 90, np.uint8)
    piece = crop(image, box, (28, 28))
    assert piece.shape == (28, 28)
    assert np.all(piece == 90)  # a black bar would show as 0s


def test_a_point_sized_box_still_gives_a_picture() -> None:
    piece = crop(_ramp(), (0.5, 0.5, 0.5, 0.5), (28, 28))
    assert piece.shape == (28, 28)
