"""Query arguments: declared by the twins, read with Flask's rules, refused in the legacy
words. Run through the gateway too (the second pass), where each twin answers."""

from __future__ import annotations

import pytest

from fastapi_app.query import flask_query_string
from shared.db.base import MAX_ID

DOWNLOAD_STATUSES = "queued, running, completed, failed, cancelled"
TRANSCODES = "1, true, yes, 0, false, no"
STATUSES = "wanted, downloading, downloaded, ignored, failed"
ARTIST_SORTS = (
    "name, -name, created_at, -created_at, updated_at, -updated_at, id, -id, video_count, "
    "-video_count"
)
# (url, the legacy message), one per kind of refusal and per route that reads arguments.
REFUSALS = [
    ("/api/videos?limit=abc", "limit must be an integer"),
    ("/api/videos?limit=1.5", "limit must be an integer"),
    ("/api/videos?limit=0", "limit must be between 1 and 500"),
    ("/api/videos?limit=abc&limit=5", "limit must be an integer"),  # the first value wins
    ("/api/videos?offset=-1", f"offset must be between 0 and {MAX_ID}"),
    ("/api/videos?artist_id=%FF", "artist_id must be an integer"),
    ("/api/videos?order=up", "order must be asc or desc"),
    # Several refused: the first in the order the legacy side checks them.
    ("/api/videos?limit=x&status=nope", f"status must be one of {STATUSES}"),
    ("/api/videos/search", "q is required, 1 to 200 characters"),
    ("/api/videos/search?q=%20%20", "q is required, 1 to 200 characters"),
    ("/api/artists?sort=nope", f"sort must be one of {ARTIST_SORTS}"),
    ("/api/artists?monitored=yes", "monitored must be true, false, 1 or 0"),
    ("/api/artists?search=" + "x" * 201, "search must be at most 200 characters"),
    ("/api/artists?per_page=201", "per_page must be between 1 and 200"),
    ("/api/downloads?status=", f"status must be one of {DOWNLOAD_STATUSES}"),
    ("/api/admin/logs?lines=%2B5", "lines must be an integer"),
    ("/api/admin/logs?lines=1001", "lines must be between 1 and 1000"),
    ("/api/metadata/search?q=", "q is required, 1 to 200 characters"),
    # Refused before the video is looked up (there is none), on both sides.
    ("/api/videos/999/stream?transcode=no%20way", f"transcode must be one of {TRANSCODES}"),
]


def test_refusals_say_what_the_legacy_side_says(client, bearer):
    headers = bearer("admin")
    for url, message in REFUSALS:
        response = client.get(url, headers=headers)
        assert response.status_code == 400, (url, response.get_data(as_text=True))
        assert response.get_json() == {"error": message, "code": "VALIDATION_ERROR"}, url


# (url, the page the arguments read as): Flask's int() and its first value of a key.
ACCEPTED = [
    ("/api/videos?limit=%20%2B5", 5),
    ("/api/videos?limit=%D9%A5", 5),  # ARABIC-INDIC DIGIT FIVE
    ("/api/videos?limit=1_0", 10),
    ("/api/videos?limit=7&limit=abc", 7),
    ("/api/videos?limit=", 50),
]


def test_arguments_read_as_flask_reads_them(client, bearer):
    headers = bearer("admin")
    for url, limit in ACCEPTED:
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.get_data(as_text=True))
        assert response.get_json()["limit"] == limit, url
    listed = client.get("/api/artists?sort=%20-name&monitored=%20TRUE&search=%20", headers=headers)
    assert listed.status_code == 200, listed.get_data(as_text=True)


@pytest.mark.parametrize(
    ("raw", "flask_view"),
    [
        (b"a=1&a=2&b=3", b"a=1&b=3"),  # the first value of a key, as request.args.get
        (b"q=%FF", b"q=%25FF"),  # a byte that is no UTF-8 reads as the text "%FF"
        (b"q=a+b&flag", b"q=a%20b&flag="),
        (b"q=%E2%82%AC", b"q=%E2%82%AC"),
    ],
)
def test_the_query_string_is_rewritten_to_flasks_view(raw, flask_view):
    assert flask_query_string(raw) == flask_view
