import pytest
from elastic_transport import HttpHeaders

from trtlens.es import plain_media_types


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("application/vnd.elasticsearch+json; compatible-with=8", "application/json"),
        ("application/vnd.elasticsearch+x-ndjson; compatible-with=8", "application/x-ndjson"),
        ("application/json", "application/json"),
        ("text/plain", "text/plain"),
    ],
)
def test_compatibility_media_types_become_plain(given, expected):
    out = plain_media_types(HttpHeaders({"accept": given, "content-type": given, "x-opaque-id": "k"}))
    assert out["accept"] == expected and out["content-type"] == expected
    assert out["x-opaque-id"] == "k"


def test_empty_headers_pass_through():
    assert plain_media_types(None) is None
