import numpy as np
import pytest

from features.grid import FrameGrid, frame_labels


def test_centered_grid_counts_and_times():
    grid = FrameGrid(sr=22050, hop_length=512)
    assert grid.n_frames(0) == 1
    assert grid.n_frames(22050) == 1 + 22050 // 512
    np.testing.assert_allclose(grid.times(3), [0.0, 512 / 22050, 1024 / 22050])


def test_example_grid_counts_whole_examples_only():
    grid = FrameGrid(sr=16000, hop_length=15360, centered=False)  # VGGish 0.96 s
    assert grid.n_frames(16000 * 10) == 10
    assert grid.first_centre == pytest.approx(0.48)


def test_labels_are_activity_at_frame_centres():
    grid = FrameGrid(sr=10, hop_length=10)  # one frame per second, centres at 0, 1, 2, ...
    labels = frame_labels([("a", 1.0, 3.0), ("b", 2.5, 2.6)], ["a", "b"], grid, 5)
    # a: centres 1 and 2 are in [1, 3); 3 is not.  b: no centre in [2.5, 2.6).
    np.testing.assert_array_equal(labels[:, 0], [0, 1, 1, 0, 0])
    np.testing.assert_array_equal(labels[:, 1], [0, 0, 0, 0, 0])


def test_unknown_class_is_named():
    with pytest.raises(KeyError, match="'cello'"):
        frame_labels([("cello", 0.0, 1.0)], ["a"], FrameGrid(sr=10, hop_length=10), 3)
