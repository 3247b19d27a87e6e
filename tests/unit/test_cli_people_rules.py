"""Pure rules behind `parley`'s people-facing commands: user references, m.direct and power level
updates, file names from Content-Disposition, text-art pictures."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from clients.cli.errors import CliError
from clients.cli.textart import RAMP, text_art
from clients.cli.users import qualify
from clients.sdk.content import direct_without, with_user_power
from clients.sdk.media import filename_from_disposition

ME = "@alice:example.org:8448"


@pytest.mark.parametrize(("reference", "user_id"), [
    ("bob", "@bob:example.org:8448"),
    ("@bob", "@bob:example.org:8448"),
    ("@bob:other.net", "@bob:other.net"),
    ("bob:other.net", "@bob:other.net"),
    (" bob ", "@bob:example.org:8448"),
])
def test_a_bare_name_is_a_user_of_ones_own_server(reference: str, user_id: str) -> None:
    assert qualify(reference, ME) == user_id


@pytest.mark.parametrize("reference", ["", "@", "@:", "bob:", "bo b"])
def test_what_is_not_a_user_is_a_usage_error(reference: str) -> None:
    with pytest.raises(CliError) as caught:
        qualify(reference, ME)
    assert caught.value.code == 2


@pytest.mark.parametrize(("header", "name"), [
    ('attachment; filename="holiday photo.png"', "holiday photo.png"),
    ("inline; filename*=utf-8''%C3%A9t%C3%A9.txt", "été.txt"),
    ('attachment; filename="../../etc/passwd"', "passwd"),
    ('attachment; filename="..\\\\evil.txt"', "evil.txt"),
    ('attachment; filename=".hidden"', "hidden"),
    ('attachment; filename="bell\x07.txt"', "bell_.txt"),
    ('attachment; filename=".."', None),
    ("inline", None),
    (None, None),
])
def test_file_names_from_content_disposition_are_bare(header: str | None, name: str | None) -> None:
    assert filename_from_disposition(header) == name


def test_direct_without_drops_rooms_and_empty_users() -> None:
    direct = {"@bob:hs": ["!a:hs", "!b:hs"], "@carol:hs": ["!c:hs"]}
    assert direct_without(direct, "@bob:hs", {"!a:hs"}) == {"@bob:hs": ["!b:hs"], "@carol:hs": ["!c:hs"]}
    assert direct_without(direct, "@carol:hs", {"!c:hs"}) == {"@bob:hs": ["!a:hs", "!b:hs"]}
    assert direct == {"@bob:hs": ["!a:hs", "!b:hs"], "@carol:hs": ["!c:hs"]}  # input kept


def test_with_user_power_sets_and_resets_to_the_default() -> None:
    levels = {"users": {"@alice:hs": 100}, "users_default": 0, "ban": 50}
    assert with_user_power(levels, "@bob:hs", 50)["users"] == {"@alice:hs": 100, "@bob:hs": 50}
    assert with_user_power({**levels, "users": {"@alice:hs": 100, "@bob:hs": 50}}, "@bob:hs", 0)["users"] \
        == {"@alice:hs": 100}
    assert with_user_power(levels, "@bob:hs", 50)["ban"] == 50


def test_text_art_is_plain_characters_dark_to_light() -> None:
    buffer = io.BytesIO()
    image = Image.new("L", (40, 40), 255)
    image.paste(0, (0, 0, 40, 20))
    image.save(buffer, format="PNG")
    art = text_art(buffer.getvalue(), 20)
    assert art is not None
    rows = art.splitlines()
    assert rows[0] == RAMP[-1] * 20 and set(art) <= set(RAMP + "\n")
    assert len(rows) == 10  # cells are about twice as tall as wide
    assert text_art(b"not an image") is None
