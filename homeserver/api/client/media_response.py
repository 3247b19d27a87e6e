"""Serving media files: Content-Type, Content-Disposition and the security headers.

spec: client-server-api/modules/content_repo.md, "Serving inline content" and the
download responses in data/api/client-server/authed-content-repo.yaml.
"""

from __future__ import annotations

from urllib.parse import quote

from aiohttp import web

from homeserver.services.media.repository import ServedMedia

# spec: content_repo.md, "Serving inline content": only these may be inline.
INLINE_CONTENT_TYPES = frozenset({
    "text/css", "text/plain", "text/csv", "application/json", "application/ld+json",
    "image/jpeg", "image/gif", "image/png", "image/apng", "image/webp", "image/avif",
    "video/mp4", "video/webm", "video/ogg", "video/quicktime",
    "audio/mp4", "audio/webm", "audio/aac", "audio/mpeg", "audio/ogg", "audio/wave", "audio/wav",
    "audio/x-wav", "audio/x-pn-wav", "audio/flac", "audio/x-flac",
})

# spec: content_repo.md — the recommended Content-Security-Policy, plus CORP (v1.4).
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf;"
        " style-src 'unsafe-inline'; object-src 'self';"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cross-Origin-Resource-Policy": "cross-origin",
}
# Content never changes under a media ID.
CACHE_CONTROL = "private, max-age=86400"

_TOKEN_SAFE = frozenset(chr(c) for c in range(0x20, 0x7F)) - {'"', "\\"}


def is_inline_type(content_type: str) -> bool:
    return content_type.split(";", 1)[0].strip().lower() in INLINE_CONTENT_TYPES


def content_disposition(disposition: str, filename: str | None) -> str:
    """``inline; filename="a.png"``, or RFC 6266 ``filename*=utf-8''...`` for other names."""
    if not filename:
        return disposition
    if all(c in _TOKEN_SAFE for c in filename):
        return f'{disposition}; filename="{filename}"'
    # RFC 6266 section 4.3 / RFC 8187: percent-encoded UTF-8 for names plain quoting cannot carry.
    return f"{disposition}; filename*=utf-8''{quote(filename, safe='')}"


def download_disposition(served: ServedMedia, filename_override: str | None = None) -> str:
    # spec: "If the Content-Type is allowed in the restrictions for serving inline
    # content, servers SHOULD use inline, otherwise they SHOULD use attachment."
    disposition = "inline" if is_inline_type(served.content_type) else "attachment"
    return content_disposition(disposition, filename_override or served.upload_name)


def media_headers(content_type: str, disposition: str) -> dict[str, str]:
    return {
        "Content-Type": content_type,
        "Content-Disposition": disposition,
        "Cache-Control": CACHE_CONTROL,
        **SECURITY_HEADERS,
    }


def download_response(served: ServedMedia, filename_override: str | None = None) -> web.FileResponse:
    return web.FileResponse(
        served.path,
        headers=media_headers(served.content_type, download_disposition(served, filename_override)),
    )


def thumbnail_response(served: ServedMedia) -> web.FileResponse:
    # spec: thumbnail Content-Disposition "MUST be inline, and SHOULD contain a file name".
    name = served.upload_name or "thumbnail"
    return web.FileResponse(served.path, headers=media_headers(served.content_type, content_disposition("inline", name)))
