"""OpenGraph metadata of an HTML page, for URL previews (pure; no I/O).

spec: data/api/client-server/authed-content-repo.yaml, GET preview_url: "The OpenGraph
data for the URL"; https://ogp.me/. Pages without og: tags fall back to <title> and
<meta name="description">, as Synapse does.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin

MAX_VALUE_CHARS = 1000
MAX_PROPERTIES = 50


class _OpenGraphParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.properties: dict[str, str] = {}
        self.title: str | None = None
        self.description: str | None = None
        self._in_title = False
        self._title_parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {k.lower(): v for k, v in attrs if v is not None}
        if tag == "meta":
            content = attributes.get("content")
            if content is None:
                return
            prop = attributes.get("property") or attributes.get("name") or ""
            if prop.startswith("og:") and len(self.properties) < MAX_PROPERTIES:
                self.properties.setdefault(prop, content[:MAX_VALUE_CHARS])
            elif prop.lower() == "description" and self.description is None:
                self.description = content[:MAX_VALUE_CHARS]
        elif tag == "title" and self.title is None:
            self._in_title = True

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self._title_parts.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._in_title:
            self._in_title = False
            self.title = " ".join("".join(self._title_parts).split())[:MAX_VALUE_CHARS]


def parse_open_graph(html: str, page_url: str) -> dict[str, str]:
    """og:* properties of the page; og:image and og:url made absolute against ``page_url``."""
    parser = _OpenGraphParser()
    parser.feed(html)
    parser.close()
    og = dict(parser.properties)
    if "og:title" not in og and parser.title:
        og["og:title"] = parser.title
    if "og:description" not in og and parser.description:
        og["og:description"] = parser.description
    for key in ("og:image", "og:url"):
        if key in og:
            og[key] = urljoin(page_url, og[key])
    return og
