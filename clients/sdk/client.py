"""``AsyncClient``: the SDK's entry point — messaging, rooms, media, DMs ("friends") and
spaces on top of :class:`clients.sdk.core.ClientCore`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from clients.crypto.attachments import decrypt_attachment, encrypt_attachment
from clients.crypto.errors import AttachmentError
from clients.sdk import api, content, media, responses
from clients.sdk.core import ClientCore
from clients.sdk.errors import MatrixRequestError
from clients.sdk.friends import Friend, friends
from schemas.identifiers import server_of


class AsyncClient(ClientCore):
    """One account on one homeserver.

    >>> client = AsyncClient("http://127.0.0.1:8008")
    >>> await client.login("alice", "secret")
    >>> client.callbacks.on_message(handler)
    >>> await client.sync_forever()
    """

    # --- messages ---------------------------------------------------------------------
    async def send_text(self, room_id: str, body: str, *, txn_id: str | None = None) -> str:
        return await self.send_event(room_id, "m.room.message", content.text(body), txn_id=txn_id)

    async def send_notice(self, room_id: str, body: str) -> str:
        return await self.send_event(room_id, "m.room.message", content.notice(body))

    async def send_emote(self, room_id: str, body: str) -> str:
        return await self.send_event(room_id, "m.room.message", content.emote(body))

    async def send_reply(self, room_id: str, in_reply_to: str, body: str) -> str:
        return await self.send_event(room_id, "m.room.message", content.reply(in_reply_to, body))

    async def send_edit(self, room_id: str, event_id: str, new_body: str) -> str:
        return await self.send_event(room_id, "m.room.message", content.edit(event_id, new_body))

    async def send_reaction(self, room_id: str, event_id: str, key: str) -> str:
        return await self.send_event(room_id, "m.reaction", content.reaction(event_id, key))

    # --- rooms ------------------------------------------------------------------------
    async def create_room(
        self,
        *,
        name: str | None = None,
        topic: str | None = None,
        alias_localpart: str | None = None,
        invite: list[str] | None = None,
        preset: str | None = None,
        visibility: str | None = None,
        is_direct: bool = False,
        room_type: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        body: dict[str, Any] = dict(extra or {})
        for key, value in (
            ("name", name), ("topic", topic), ("room_alias_name", alias_localpart),
            ("preset", preset), ("visibility", visibility),
        ):
            if value is not None:
                body[key] = value
        if invite:
            body["invite"] = invite
        if is_direct:
            body["is_direct"] = True
        if room_type is not None:
            body.setdefault("creation_content", {})["type"] = room_type
        return responses.parse_room_id(await self.request(api.create_room(body)))

    async def join(self, room_id_or_alias: str, *, via: list[str] | None = None) -> str:
        return responses.parse_room_id(await self.request(api.join(room_id_or_alias, via=via)))

    async def knock(self, room_id_or_alias: str, reason: str | None = None) -> str:
        return responses.parse_room_id(await self.request(api.knock(room_id_or_alias, reason=reason)))

    async def leave(self, room_id: str, reason: str | None = None) -> None:
        await self.request(api.leave(room_id, reason))

    async def forget(self, room_id: str) -> None:
        await self.request(api.forget(room_id))

    async def invite(self, room_id: str, user_id: str, reason: str | None = None) -> None:
        await self.request(api.invite(room_id, user_id, reason))

    async def kick(self, room_id: str, user_id: str, reason: str | None = None) -> None:
        await self.request(api.kick(room_id, user_id, reason))

    async def ban(self, room_id: str, user_id: str, reason: str | None = None) -> None:
        await self.request(api.ban(room_id, user_id, reason))

    async def unban(self, room_id: str, user_id: str, reason: str | None = None) -> None:
        await self.request(api.unban(room_id, user_id, reason))

    async def set_topic(self, room_id: str, topic: str) -> str:
        return await self.send_state(room_id, "m.room.topic", {"topic": topic})

    async def set_room_name(self, room_id: str, name: str) -> str:
        return await self.send_state(room_id, "m.room.name", {"name": name})

    async def joined_room_ids(self) -> list[str]:
        data = await self.request(api.joined_rooms())
        rooms = data.get("joined_rooms") if isinstance(data, dict) else None
        return [r for r in rooms if isinstance(r, str)] if isinstance(rooms, list) else []

    async def set_power_level(self, room_id: str, user_id: str, level: int) -> str:
        """Give `user_id` power `level` in the room (read-modify-write of m.room.power_levels)."""
        current = await self.get_state_event(room_id, "m.room.power_levels")
        return await self.send_state(room_id, "m.room.power_levels", content.with_user_power(current, user_id, level))

    async def resolve_alias(self, alias: str) -> str:
        return responses.parse_room_id(await self.request(api.resolve_alias(alias)))

    # --- spaces -------------------------------------------------------------------------
    async def create_space(self, name: str, *, topic: str | None = None, preset: str = "private_chat") -> str:
        return await self.create_room(name=name, topic=topic, preset=preset, room_type="m.space")

    async def add_space_child(
        self, space_id: str, child_id: str, *, via: list[str] | None = None, suggested: bool = False
    ) -> str:
        via = via or [server_of(self.require_user_id())]
        return await self.send_state(space_id, "m.space.child", content.space_child(via, suggested=suggested), child_id)

    # --- media ----------------------------------------------------------------------------
    async def upload(self, data: bytes, content_type: str, filename: str | None = None) -> str:
        """Upload bytes to the content repository; returns the mxc:// URI."""
        return responses.parse_content_uri(await self.request(api.upload(data, content_type, filename)))

    async def download(self, mxc_uri: str) -> tuple[bytes, str]:
        """(bytes, content type) of an mxc:// URI."""
        data, content_type, _ = await self.download_named(mxc_uri)
        return data, content_type

    async def download_named(self, mxc_uri: str) -> tuple[bytes, str, str | None]:
        """(bytes, content type, the file name from Content-Disposition or None) of an mxc:// URI."""
        response = await self.send_raw(api.download(mxc_uri))
        if not 200 <= response.status < 300:
            raise responses.error_from(response)
        filename = media.filename_from_disposition(response.headers.get("content-disposition"))
        return response.body, response.content_type, filename

    async def thumbnail(self, mxc_uri: str, width: int, height: int) -> bytes:
        """A server-made thumbnail of an image (spec: "Thumbnails"), scaled to fit width x height."""
        response = await self.send_raw(api.thumbnail(mxc_uri, width, height))
        if not 200 <= response.status < 300:
            raise responses.error_from(response)
        return response.body

    async def send_file(self, room_id: str, path: str | Path, *, mimetype: str | None = None) -> tuple[str, str]:
        """Upload a file and post it as m.image/m.audio/m.video/m.file; (event ID, mxc URI)."""
        path = Path(path)
        data = await asyncio.to_thread(path.read_bytes)
        return await self.send_file_bytes(room_id, path.name, data, mimetype=mimetype)

    async def send_file_bytes(
        self, room_id: str, filename: str, data: bytes, *, mimetype: str | None = None
    ) -> tuple[str, str]:
        """Upload and post `data`; in an encrypted room the file (and an image's thumbnail) is
        encrypted first and only ciphertext reaches the server. (event ID, mxc URI)."""
        # Pillow decoding an image header is CPU work: keep it off the event loop.
        described = await asyncio.to_thread(media.describe, filename, data, mimetype)
        if not await self.room_is_encrypted(room_id):
            uri = await self.upload(data, described.mimetype, filename)
            body = content.media(described.msgtype, filename, uri, described.info)
        else:
            info = dict(described.info)
            if described.msgtype == "m.image":
                thumbnail = await asyncio.to_thread(media.make_thumbnail, data)
                if thumbnail is not None:
                    info["thumbnail_file"] = await self.upload_encrypted(thumbnail.data)
                    info["thumbnail_info"] = thumbnail.info()
            file = await self.upload_encrypted(data)
            uri = str(file["url"])
            body = content.encrypted_media(described.msgtype, filename, file, info)
        event_id = await self.send_event(room_id, "m.room.message", body)
        return event_id, uri

    async def upload_encrypted(self, data: bytes) -> dict[str, Any]:
        """Encrypt `data` (AES-256-CTR, random key), upload the ciphertext and return the
        EncryptedFile object (url, key, iv, hashes, v) to put in an event."""
        sealed = await asyncio.to_thread(encrypt_attachment, data)
        # Neither the type nor the name goes with it: they would say what the ciphertext is.
        uri = await self.upload(sealed.ciphertext, "application/octet-stream")
        return sealed.file_info(uri)

    async def download_decrypted(self, file: dict[str, Any]) -> bytes:
        """The plaintext of an EncryptedFile: downloaded, its SHA-256 checked, then decrypted.
        Raises clients.crypto.AttachmentError (AttachmentHashMismatchError if it was altered)."""
        url = file.get("url") if isinstance(file, dict) else None
        if not isinstance(url, str):
            raise AttachmentError("the encrypted file object has no url")
        data, _ = await self.download(url)
        return await asyncio.to_thread(decrypt_attachment, data, file)

    async def download_media(self, source: media.MediaSource) -> bytes:
        """The bytes of a media event's file (see ``media.media_source``), decrypted if encrypted."""
        if source.file is not None:
            return await self.download_decrypted(source.file)
        data, _ = await self.download(source.url)
        return data

    # --- direct messages and friends ------------------------------------------------------------
    async def _add_direct_room(self, user_id: str, room_id: str) -> None:
        current = await self.get_account_data("m.direct") or {}
        direct = {u: r for u, r in current.items() if isinstance(r, list)}
        updated = content.direct_with(direct, user_id, room_id)
        if updated != direct:
            await self.set_account_data("m.direct", updated)  # type: ignore[arg-type]

    async def create_dm(self, user_id: str) -> str:
        """A private room with is_direct, inviting `user_id`, recorded in our m.direct."""
        room_id = await self.create_room(invite=[user_id], is_direct=True, preset="trusted_private_chat")
        await self._add_direct_room(user_id, room_id)
        return room_id

    async def accept_dm(self, room_id: str, inviter: str) -> str:
        joined = await self.join(room_id)
        await self._add_direct_room(inviter, joined)
        return joined

    def friends(self) -> list[Friend]:
        """DM contacts and pending requests, from the synced model."""
        assert self.state is not None, "sync first"
        return friends(self.state)

    async def user_exists(self, user_id: str) -> bool:
        """Whether the user's server knows them (their profile answers; 404 means no such user)."""
        try:
            await self.get_profile(user_id)
        except MatrixRequestError as e:
            if e.status == 404 or e.errcode == "M_NOT_FOUND":
                return False
            raise
        return True

    async def add_friend(self, user_id: str) -> str:
        """Send a friend request: a DM room inviting them. Reuses an existing DM room.

        Refused (M_INVALID_PARAM, M_NOT_FOUND) before any room exists for oneself or a user
        whose server does not know them."""
        if user_id == self.require_user_id():
            raise MatrixRequestError(400, "M_INVALID_PARAM", "you cannot send yourself a friend request")
        for friend in self.friends() if self.state else []:
            if friend.user_id == user_id and friend.status in ("contact", "outgoing"):
                return friend.room_id
            if friend.user_id == user_id and friend.status == "incoming":
                return await self.accept_dm(friend.room_id, user_id)
        if not await self.user_exists(user_id):
            raise MatrixRequestError(404, "M_NOT_FOUND", f"no such user: {user_id}")
        return await self.create_dm(user_id)

    async def remove_friend(self, user_id: str) -> list[str]:
        """Decline a request from, withdraw one to, or unfriend `user_id`: leave and forget every
        DM room with them and drop them from m.direct. Returns the rooms left."""
        assert self.state is not None, "sync first"
        rooms = {f.room_id for f in self.friends() if f.user_id == user_id}
        rooms |= set(self.state.direct.get(user_id, []))
        rooms = {r for r in rooms if r in self.state.rooms and self.state.rooms[r].my_membership in ("join", "invite")}
        if not rooms:
            raise MatrixRequestError(404, "M_NOT_FOUND", f"no friend or request {user_id}")
        for room_id in sorted(rooms):
            await self.leave(room_id)
            await self.forget(room_id)
        current = await self.get_account_data("m.direct") or {}
        direct = {u: r for u, r in current.items() if isinstance(r, list)}
        updated = content.direct_without(direct, user_id, rooms)
        if updated != direct:
            await self.set_account_data("m.direct", updated)  # type: ignore[arg-type]
        return sorted(rooms)

    async def accept_friend(self, user_id: str) -> str:
        """Accept a pending DM invitation from `user_id`."""
        for friend in self.friends():
            if friend.user_id == user_id and friend.status == "incoming":
                return await self.accept_dm(friend.room_id, user_id)
        raise MatrixRequestError(404, "M_NOT_FOUND", f"no pending request from {user_id}")
