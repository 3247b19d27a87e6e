"""The Textual chat application behind `parley chat`.

The SDK's sync loop runs as a worker; after every sync the view is redrawn from the
room model (``render`` turns it into text). Network calls from the UI run as workers
so typing never waits on the server; their errors are shown as notifications.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from pathlib import Path
from typing import Any

import aiohttp
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.notifications import SeverityLevel
from textual.widgets import Footer, Input, Label, ListItem, ListView, Static

from clients.cli.chat import render
from clients.cli.chat.commands import Command, CommandError, help_text, parse, parse_voice
from clients.cli.chat.voice import ChatVoice
from clients.cli.errors import CliError
from clients.cli.literal import one_line, plain, shown
from clients.cli.textart import text_art
from clients.cli.users import qualify
from clients.crypto.errors import CryptoError
from clients.sdk import AsyncClient, MatrixRequestError, TransportError
from clients.sdk.encryption import EncryptionUnavailableError
from clients.sdk.media import MediaSource
from clients.sdk.rooms import Room
from clients.voice.call import CALL_EVENT_TYPES, CallLog
from clients.voice.room import FocusError

log = logging.getLogger(__name__)

TYPING_RESEND_SECONDS = 10.0
USER_COMMANDS = {"invite", "kick", "ban", "dm"}  # their first argument is a user: a bare name is local
PREVIEW_COLUMNS = 24  # text-art image previews in the timeline
USER_ERRORS = (MatrixRequestError, TransportError, EncryptionUnavailableError, OSError)
VOICE_ERRORS = (*USER_ERRORS, FocusError, aiohttp.ClientError, TimeoutError, ValueError)


class RoomItem(ListItem):
    def __init__(self, room_id: str, label: str) -> None:
        super().__init__(Label(plain(label)))
        self.room_id = room_id
        self.label_text = label

    def set_label(self, text: str) -> None:
        if text != self.label_text:
            self.label_text = text
            self.query_one(Label).update(plain(text))


class ChatApp(App[None]):
    TITLE = "parley"
    CSS = """
    #rooms { width: 28; border-right: solid $primary; }
    #people { width: 24; border-left: solid $primary; padding: 0 1; }
    #room-title { height: 1; background: $primary; color: $text; padding: 0 1; }
    #timeline-scroll { height: 1fr; padding: 0 1; }
    #typing, #reply { height: 1; color: $text-muted; padding: 0 1; }
    #composer { dock: bottom; }
    """
    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit"),
        Binding("ctrl+r", "reply_latest", "Reply"),
        Binding("escape", "cancel_reply", "Cancel reply", show=False),
    ]

    def __init__(self, client: AsyncClient, *, sync_timeout_ms: int = 30_000) -> None:
        super().__init__()
        self.client = client
        self.sync_timeout_ms = sync_timeout_ms
        self.current_room_id: str | None = None
        self.reply_to: str | None = None
        self._items: dict[str, RoomItem] = {}
        self._stop = asyncio.Event()
        self._last_typing = 0.0
        self._receipts_sent: dict[str, str] = {}
        self.calls = CallLog()  # m.call.* seen, to show who is calling
        self._previews: dict[str, str] = {}  # event ID -> text-art preview ("" while fetching or unreadable)
        self.voice: ChatVoice | None = None  # our session in a room's voice channel

    # --- layout -----------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with Horizontal():
            yield ListView(id="rooms")
            with Vertical():
                yield Static("", id="room-title", markup=False)
                with VerticalScroll(id="timeline-scroll"):
                    yield Static("Syncing…", id="timeline", markup=False)
                yield Static("", id="typing", markup=False)
                yield Static("", id="reply", markup=False)
                yield Input(placeholder="Message, or a command: /help lists them", id="composer")
            yield Static("", id="people", markup=False)
        yield Footer()

    async def on_mount(self) -> None:
        self.client.callbacks.on_sync(self._on_sync)
        for event_type in CALL_EVENT_TYPES:
            self.client.callbacks.on_event(event_type)(self._on_call_event)
        self.run_worker(self._sync_loop(), name="sync", group="sync")
        self.query_one("#composer", Input).focus()

    async def on_unmount(self) -> None:
        self._stop.set()
        # Leaving the chat leaves the voice channel (and empties our member event).
        voice, self.voice = self.voice, None
        if voice is not None:
            try:
                await voice.leave()
            except VOICE_ERRORS as e:
                log.warning("could not leave the voice channel cleanly: %s", e)

    async def _sync_loop(self) -> None:
        try:
            await self.client.sync_forever(self.sync_timeout_ms, stop=self._stop)
        except MatrixRequestError as e:
            self.notify(f"Sync stopped: {e.errcode}: {e.message}", severity="error", timeout=30)

    async def _on_sync(self, response: dict[str, Any]) -> None:
        # A sync can complete while the app is shutting down: its widgets are gone then.
        if self._stop.is_set() or not self.is_running:
            return
        try:
            await self.refresh_view()
        except NoMatches:
            if not self._stop.is_set():
                raise

    def _redraw(self) -> None:
        """Redraw after something other than a sync (the voice roster), unless shutting down."""
        if self._stop.is_set() or not self.is_running:
            return
        try:
            self._draw_room()
        except NoMatches:
            if not self._stop.is_set():
                raise

    def _on_call_event(self, room: Room, event: dict[str, Any]) -> None:
        call = self.calls.observe(room.room_id, event, time.monotonic())
        own = self.client.user_id or ""
        if call is not None and event.get("type") == "m.call.invite" and call.ringing_for(own, time.monotonic()):
            self.notify(f"📞 {room.member_name(call.caller)} is calling in {room.display_name} — "
                        f"run `parley answer {room.room_id}`", timeout=30)

    def notify(self, message: str, *, title: str = "", severity: SeverityLevel = "information",
               timeout: float | None = None, markup: bool = False) -> None:
        """Notifications often quote other people's text (room names, errors): literal by default."""
        super().notify(shown(message), title=one_line(title), severity=severity, timeout=timeout, markup=markup)

    # --- drawing ----------------------------------------------------------------------
    @property
    def current_room(self) -> Room | None:
        state = self.client.state
        if state is None or self.current_room_id is None:
            return None
        return state.rooms.get(self.current_room_id)

    async def refresh_view(self) -> None:
        state = self.client.state
        if state is None:
            return
        rooms = render.sorted_rooms(state)
        list_view = self.query_one("#rooms", ListView)
        wanted = {r.room_id for r in rooms}
        for room_id in [r for r in self._items if r not in wanted]:
            await self._items.pop(room_id).remove()
        for room in rooms:
            label = render.room_label(room)
            if room.room_id in self._items:
                self._items[room.room_id].set_label(label)
            else:
                item = RoomItem(room.room_id, label)
                self._items[room.room_id] = item
                await list_view.append(item)
        self._order_room_list(list_view, [r.room_id for r in rooms])
        # A room we just joined may not have synced yet; keep it selected until it has.
        pending_join = self.current_room_id is not None and self.current_room_id not in state.rooms
        if self.current_room_id not in wanted and not pending_join:
            self.current_room_id = rooms[0].room_id if rooms else None
        self._draw_room()

    def _order_room_list(self, list_view: ListView, order: list[str]) -> None:
        """Move the list's items into `order` (most recent activity first), as messages arrive."""
        for position, room_id in enumerate(order):
            item = self._items.get(room_id)
            children = list(list_view.children)
            if item is None or item not in children or children.index(item) == position:
                continue
            list_view.move_child(item, before=position)

    def _fetch_previews(self, room: Room) -> None:
        """Start fetching a thumbnail for each image not seen yet; the timeline redraws when one is ready."""
        for event_id, source in render.image_sources(room).items():
            if event_id not in self._previews:
                self._previews[event_id] = ""
                self.run_worker(self._preview(event_id, source), group="previews")

    async def _preview(self, event_id: str, source: MediaSource) -> None:
        try:
            if source.encrypted:
                # The server holds only ciphertext: the image (or the sender's thumbnail) is
                # downloaded and decrypted here, its hash checked first.
                data = await self.client.download_media(source)
            else:
                data = await self.client.thumbnail(source.url, 96, 96)
        except (MatrixRequestError, TransportError, ValueError, CryptoError) as e:
            log.debug("no preview for %s: %s", event_id, e)
            return
        art = await asyncio.to_thread(text_art, data, PREVIEW_COLUMNS)
        if art and not self._stop.is_set():
            self._previews[event_id] = art
            if self.current_room is not None and self.current_room.timeline.get(event_id) is not None:
                self._draw_room()

    def _draw_room(self) -> None:
        room = self.current_room
        own = self.client.user_id or ""
        title = self.query_one("#room-title", Static)
        timeline = self.query_one("#timeline", Static)
        if room is None:
            title.update(plain("No rooms — /join #room:server or /dm @user:server"))
            timeline.update("")
            self.query_one("#people", Static).update("")
            return
        topic = f" — {one_line(room.topic)}" if room.topic else ""
        title.update(plain(f"{one_line(room.display_name)}{topic}"))
        ringing = render.call_text(room, self.calls, own, time.monotonic())
        self._fetch_previews(room)
        timeline.update(plain(render.timeline_text(room, self._previews) + (f"\n{ringing}" if ringing else "")))
        self.query_one("#timeline-scroll", VerticalScroll).scroll_end(animate=False)
        self.query_one("#typing", Static).update(plain(render.typing_text(room, own)))
        voice = self.voice
        roster = voice.roster if voice is not None and voice.room_id == room.room_id and voice.connected else None
        in_voice = render.voice_text(room, int(time.time() * 1000), roster or None)
        people = render.people_text(room, self.client.state)  # type: ignore[arg-type]
        self.query_one("#people", Static).update(plain(f"{in_voice}\n\n{people}" if in_voice else people))
        target = room.timeline.get(self.reply_to) if self.reply_to else None
        self.query_one("#reply", Static).update(plain(
            f"Replying to {one_line(room.member_name(target.sender))}: {one_line(target.body[:60])} (Esc to cancel)"
            if target else ""
        ))
        self._mark_read(room)
        list_view = self.query_one("#rooms", ListView)
        item = self._items.get(room.room_id)
        if item is not None and item in list_view.children:
            list_view.index = list_view.children.index(item)

    def _mark_read(self, room: Room) -> None:
        own = self.client.user_id
        latest = next((i for i in reversed(room.timeline.items) if i.sender != own), None)
        if room.my_membership != "join" or latest is None or self._receipts_sent.get(room.room_id) == latest.event_id:
            return
        self._receipts_sent[room.room_id] = latest.event_id
        room.local_unread = 0
        self._spawn(self.client.send_receipt(room.room_id, latest.event_id))

    # --- events -----------------------------------------------------------------------
    async def on_list_view_selected(self, event: ListView.Selected) -> None:
        if isinstance(event.item, RoomItem):
            self.select_room(event.item.room_id)

    def select_room(self, room_id: str) -> None:
        self.current_room_id = room_id
        self.reply_to = None
        self._draw_room()
        if self.current_room is not None:
            self._items[room_id].set_label(render.room_label(self.current_room))
        self.query_one("#composer", Input).focus()

    async def on_input_changed(self, event: Input.Changed) -> None:
        room = self.current_room
        if room is None or room.my_membership != "join" or not event.value or event.value.startswith("/"):
            return
        now = time.monotonic()
        if now - self._last_typing > TYPING_RESEND_SECONDS:
            self._last_typing = now
            self._spawn(self.client.set_typing(room.room_id, True, int(TYPING_RESEND_SECONDS * 3000)))

    async def on_input_submitted(self, event: Input.Submitted) -> None:
        event.input.value = ""
        try:
            command = parse(event.value)
        except CommandError as e:
            self.notify(str(e), severity="warning")
            return
        if command is not None:
            await self.execute(command)

    def action_reply_latest(self) -> None:
        room = self.current_room
        if room is None:
            return
        latest = next((i for i in reversed(room.timeline.items) if i.sender != self.client.user_id), None)
        self.reply_to = latest.event_id if latest else None
        self._draw_room()

    def action_cancel_reply(self) -> None:
        self.reply_to = None
        self._draw_room()

    # --- commands ---------------------------------------------------------------------
    async def execute(self, command: Command) -> None:
        client = self.client
        room = self.current_room
        if command.name == "quit":
            self.exit()
            return
        if command.name in USER_COMMANDS:
            try:
                user_id = qualify(command.args[0], client.require_user_id())
            except CliError as e:
                self.notify(e.message, severity="warning")
                return
            command = Command(command.name, (user_id, *command.args[1:]))
        if command.name == "help":
            self.notify(help_text(), title="parley chat", timeout=30)
            return
        if command.name == "join":
            self._spawn(self._join(command.args[0]))
            return
        if command.name == "dm":
            self._spawn(client.add_friend(command.args[0]), f"Invited {command.args[0]} to a direct chat")
            return
        if room is None:
            self.notify("Pick a room first", severity="warning")
            return
        room_id = room.room_id
        if room.my_membership == "invite" and command.name != "leave":
            self.notify("Accept the invite with /join first", severity="warning")
            return
        if command.name == "say":
            self._last_typing = 0.0
            if self.reply_to:
                self._spawn(client.send_reply(room_id, self.reply_to, command.args[0]))
                self.reply_to = None
            else:
                self._spawn(client.send_text(room_id, command.args[0]))
            self._spawn(client.set_typing(room_id, False))
        elif command.name == "me":
            self._spawn(client.send_emote(room_id, command.args[0]))
        elif command.name == "topic":
            self._spawn(client.set_topic(room_id, command.args[0]))
        elif command.name == "leave":
            if self.voice is not None and self.voice.room_id == room_id:
                self.run_worker(self._leave_voice(), group="voice")
            self._spawn(client.leave(room_id), f"Left {one_line(room.display_name)}")
        elif command.name in ("voice", "leave-voice"):
            try:
                request = parse_voice(command)
            except CommandError as e:
                self.notify(str(e), severity="warning")
                return
            if request.leave:
                if self.voice is None:
                    self.notify("You are not in a voice channel", severity="warning")
                else:
                    self.run_worker(self._leave_voice(), group="voice")
            else:
                self.run_worker(self._join_voice(room_id, request.tone), group="voice")
        elif command.name in ("invite", "kick", "ban"):
            reason = command.args[1] if len(command.args) > 1 else None
            call = getattr(client, command.name)(room_id, command.args[0], reason)
            self._spawn(call, f"{command.name.capitalize()}: {command.args[0]}")
        elif command.name == "upload":
            self._spawn(self._upload(room_id, Path(command.args[0])))
        elif command.name == "react":
            latest = room.timeline.items[-1] if len(room.timeline) else None
            if latest is None:
                self.notify("Nothing to react to", severity="warning")
            else:
                self._spawn(client.send_reaction(room_id, latest.event_id, command.args[0]))
        elif command.name == "edit":
            mine = next((i for i in reversed(room.timeline.items) if i.sender == client.user_id), None)
            if mine is None:
                self.notify("You have no message here to edit", severity="warning")
            else:
                self._spawn(client.send_edit(room_id, mine.event_id, command.args[0]))
        elif command.name == "reply":
            self.action_reply_latest()
            if self.reply_to is None:
                self.notify("Nothing to reply to", severity="warning")
            else:
                await self.execute(Command("say", command.args))
        self._draw_room()

    async def _join_voice(self, room_id: str, tone: float | None) -> None:
        if self.voice is not None:
            if self.voice.room_id == room_id and self.voice.connected:
                self.notify("You are already in this room's voice channel")
                return
            await self._leave_voice()
        voice = ChatVoice(self.client, room_id, tone=tone, on_change=self._redraw)
        self.voice = voice
        try:
            connection = await voice.join()
        except VOICE_ERRORS as e:
            if self.voice is voice:
                self.voice = None
            self.notify(f"Could not join the voice channel: {e}", severity="error")
            self._redraw()
            return
        for notice in voice.notices:
            self.notify(notice, severity="warning", timeout=15)
        self.notify("Joined the voice channel" + (" muted (listen-only)" if voice.muted else "")
                    + " — /voice leave leaves it")
        self._redraw()
        await connection.closed.wait()
        if self.voice is voice:  # the focus dropped us, not /voice leave
            self.notify("Disconnected from the voice channel", severity="warning")
            await self._leave_voice()

    async def _leave_voice(self) -> None:
        voice, self.voice = self.voice, None
        if voice is None:
            return
        try:
            await voice.leave()
        except VOICE_ERRORS as e:
            self.notify(f"Left the voice channel, but the server did not confirm: {e}", severity="warning")
        else:
            self.notify("Left the voice channel")
        self._redraw()

    async def _join(self, target: str) -> None:
        room_id = await self.client.join(target)
        self.current_room_id = room_id

    async def _upload(self, room_id: str, path: Path) -> None:
        path = await asyncio.to_thread(path.expanduser)
        if not await asyncio.to_thread(path.is_file):
            raise FileNotFoundError(f"no such file: {path}")
        await self.client.send_file(room_id, path)
        self.notify(f"Sent {path.name}")

    def _spawn(self, call: Awaitable[Any], done_message: str | None = None) -> None:
        async def run() -> None:
            try:
                await call
            except USER_ERRORS as e:
                self.notify(str(e), severity="error")
                return
            if done_message:
                self.notify(done_message)

        self.run_worker(run(), group="actions")
