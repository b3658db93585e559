"""OpenMIC's released VGGish JSON (a real dataset file) parses to codes, times and floats."""

from pathlib import Path

import numpy as np
import pytest

from features.openmic_vggish import openmic_vggish_features, parse_openmic_vggish
from features.vggish import VGGishConfig
from pipeline.track import DatasetError

FIXTURE = Path(__file__).parents[1] / "fixtures" / "openmic2018" / "vggish" / "000" / "000046_3840.json"


def test_parse_real_openmic_file():
    codes, times = parse_openmic_vggish(FIXTURE.read_text(), name=FIXTURE.name)
    assert codes.shape == (10, 128) and codes.dtype == np.uint8
    np.testing.assert_array_equal(codes[0, :4], [173, 16, 162, 107])
    np.testing.assert_allclose(times, np.arange(10) * 0.96)
    # the example start times are the VGGish grid's frames: centre = start + 0.48 s
    np.testing.assert_allclose(VGGishConfig().grid.times(10), times + 0.48)
    values, _ = openmic_vggish_features(FIXTURE.read_bytes())
    assert values.dtype == np.float32 and values.min() >= -2 and values.max() <= 2
    assert values[0, 0] == pytest.approx(173 * 4 / 255 - 2)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("{not json", "not valid JSON"),
        ({"features": []}, "expected keys"),
        ({"time_points": [0.0], "features": [[1] * 127]}, r"shape \(n, 128\)"),
        ({"time_points": [0.0], "features": [[300] * 128]}, "0..255"),
        ({"time_points": [0.96, 0.0], "features": [[1] * 128] * 2}, "must increase"),
    ],
)
def test_bad_documents_are_named(document, message):
    with pytest.raises(DatasetError, match=f"bad.json: .*{message}"):
        parse_openmic_vggish(document, name="bad.json")


SECRET = "instrecQUOTEDvggish"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ('{"time_points": [0.0],\n "features": [[1] * 128], ' + SECRET + "}", "not valid JSON at line 2, column"),
        (b'{"' + SECRET.encode() + b'\xff": 1}', r"not UTF-8 text \(byte 21\)"),
        ({SECRET: 1, "features": []}, "expected keys 'time_points' and 'features', missing 'time_points'"),
        ({"time_points": [0.0], "features": [[SECRET] * 128]}, "'features' must be rows of integers"),
        ({"time_points": [0.0], "features": [[3000] * 128]}, "codes must lie in 0..255; some do not"),
    ],
)
def test_bad_documents_are_described_without_quoting_them(document, message):
    with pytest.raises(DatasetError, match=f"bad.json: {message}") as caught:
        parse_openmic_vggish(document, name="bad.json")
    assert SECRET not in str(caught.value) and "3000" not in str(caught.value)
