"""Media cases of Complement not covered in tests/integration/test_media*.py.

After Complement's media_filename_test.go, media_misc_test.go, media_nofilename_test.go and
media_thumbnail_test.go. spec: client-server-api/modules/content_repo.md ("Security
considerations" for Content-Disposition), data/api/client-server/authed-content-repo.yaml.
"""

from __future__ import annotations

import io
import json
from email.message import Message
from pathlib import Path
from urllib.parse import quote, unquote

import pytest
from PIL import Image

from tests.conftest import RunningHomeserver
from tests.federation.harness import federated_homeservers
from tests.http_client import MatrixHttp
from tests.integration.test_media import get_raw, mxc_path, png_bytes, upload

DOWNLOADS = {
    "legacy": "/_matrix/media/v3/download/",
    "client v1": "/_matrix/client/v1/media/download/",
}


def disposition(header: str) -> tuple[str, str | None]:
    """(inline|attachment, filename) of a Content-Disposition header, RFC 6266 aware."""
    message = Message()
    message["Content-Disposition"] = header
    kind = header.split(";", 1)[0].strip()
    name = message.get_filename()
    return kind, unquote(name) if name is not None and "%" in name else name


async def download(api: MatrixHttp, endpoint: str, uri: str, name: str | None = None) -> tuple[str, str | None]:
    path = DOWNLOADS[endpoint] + mxc_path(uri)
    if name is not None:
        path += "/" + quote(name, safe="")
    resp, _ = await get_raw(api, path, auth=endpoint == "client v1")
    assert resp.status == 200
    return disposition(resp.headers["Content-Disposition"])


@pytest.mark.parametrize("endpoint", list(DOWNLOADS))
@pytest.mark.parametrize("filename", ["ascii", "name with spaces", "name;with;semicolons"])
async def test_ascii_file_names_come_back_in_content_disposition(
    homeserver: RunningHomeserver, endpoint: str, filename: str
) -> None:
    # Complement: TestMediaFilenames / ASCII / Can download file '<name>'
    alice = await homeserver.register("alice")
    uri = await upload(alice, b"text", content_type="text/plain", filename=filename)
    assert (await download(alice, endpoint, uri))[1] == filename


@pytest.mark.parametrize("endpoint", list(DOWNLOADS))
async def test_a_file_name_in_the_url_replaces_the_uploaded_one(homeserver: RunningHomeserver, endpoint: str) -> None:
    # Complement: TestMediaFilenames / ASCII|Unicode / Can download specifying a different file name
    alice = await homeserver.register("alice")
    uri = await upload(alice, b"text", content_type="text/plain", filename="ascii")
    assert (await download(alice, endpoint, uri, "file.png"))[1] == "file.png"
    assert (await download(alice, endpoint, uri, "☕️"))[1] == "☕️"


@pytest.mark.parametrize("endpoint", list(DOWNLOADS))
async def test_unicode_file_names_round_trip(homeserver: RunningHomeserver, endpoint: str) -> None:
    # Complement: TestMediaFilenames / Unicode / Can upload with Unicode file name,
    # Can download with Unicode file name locally
    alice = await homeserver.register("alice")
    uri = await upload(alice, b"text", content_type="text/plain", filename="😀 emoji.txt")
    assert (await download(alice, endpoint, uri))[1] == "😀 emoji.txt"


@pytest.mark.parametrize("endpoint", list(DOWNLOADS))
@pytest.mark.parametrize(("content_type", "expected"), [
    ("image/png", "inline"),
    ("Text/Plain; charset=utf-8", "inline"),
    ("image/svg+xml", "attachment"),
])
async def test_only_safe_media_types_are_served_inline(
    homeserver: RunningHomeserver, endpoint: str, content_type: str, expected: str
) -> None:
    # Complement: TestMediaFilenames / Unicode / Will serve safe media types as inline,
    # ... with parameters as inline, Will serve unsafe media types as attachments
    alice = await homeserver.register("alice")
    uri = await upload(alice, b"<svg/>" if "svg" in content_type else png_bytes(),
                       content_type=content_type, filename="💥")
    assert await download(alice, endpoint, uri) == (expected, "💥")


async def test_unicode_file_name_survives_federation(tmp_path: Path) -> None:
    # Complement: TestMediaFilenames / Unicode / Can download with Unicode file name over federation
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        uri = await upload(alice, b"remote text", content_type="text/plain", filename="🌍 world.txt")
        for endpoint in DOWNLOADS:
            assert (await download(bob, endpoint, uri))[1] == "🌍 world.txt"


async def test_image_message_is_found_by_a_contains_url_filter(homeserver: RunningHomeserver) -> None:
    # Complement: TestRoomImageRoundtrip
    alice = await homeserver.register("alice")
    room_id = await alice.create_room()
    uri = await upload(alice, png_bytes(), filename="dot.png")
    await alice.send(room_id, "no url here")
    image = await alice.send(room_id, {"msgtype": "m.file", "body": "dot.png", "url": uri})
    page = await alice.messages(room_id, dir="b", limit=10, filter=json.dumps({"contains_url": True}))
    assert [e["event_id"] for e in page["chunk"]] == [image]
    assert page["chunk"][0]["content"]["url"] == uri
    assert "start" in page


@pytest.mark.parametrize("prefix", ["/_matrix/media/v3", "/_matrix/client/v1/media"])
async def test_thumbnail_of_a_local_png_is_a_decodable_image(homeserver: RunningHomeserver, prefix: str) -> None:
    # Complement: TestLocalPngThumbnail
    alice = await homeserver.register("alice")
    uri = await upload(alice, png_bytes(200, 100), filename="big.png")
    resp, data = await get_raw(
        alice, f"{prefix}/thumbnail/{mxc_path(uri)}",
        params={"width": "32", "height": "32", "method": "scale"},
    )
    assert resp.status == 200
    assert resp.headers["Content-Type"] in ("image/png", "image/jpeg")
    thumbnail = Image.open(io.BytesIO(data))
    assert max(thumbnail.size) >= 32 and thumbnail.size[0] <= 200


async def test_media_without_a_file_name_round_trips_locally_and_over_federation(tmp_path: Path) -> None:
    # Complement: TestMediaWithoutFileName, TestMediaWithoutFileNameCSMediaV1
    async with federated_homeservers(tmp_path, 2) as (hs1, hs2):
        alice = await hs1.register("alice")
        bob = await hs2.register("bob")
        data = b"no name at all"
        uri = await upload(alice, data, content_type="text/plain", filename=None)
        for client in (alice, bob):
            for endpoint, prefix in DOWNLOADS.items():
                resp, body = await get_raw(client, prefix + mxc_path(uri), auth=endpoint == "client v1")
                assert resp.status == 200 and body == data
                assert resp.headers["Content-Type"].startswith("text/plain")
                assert disposition(resp.headers["Content-Disposition"])[1] is None
