"""Parsing what the user typed into the composer (pure)."""

from __future__ import annotations

from dataclasses import dataclass

# command -> (minimum args, maximum args; None for "rest of line" in the last arg)
SLASH_COMMANDS: dict[str, tuple[int, int]] = {
    "join": (1, 1),
    "leave": (0, 0),
    "invite": (1, 1),
    "kick": (1, 2),
    "ban": (1, 2),
    "topic": (1, 1),
    "me": (1, 1),
    "upload": (1, 1),
    "react": (1, 1),
    "edit": (1, 1),
    "reply": (1, 1),
    "dm": (1, 1),
    "voice": (0, 1),
    "leave-voice": (0, 0),
    "quit": (0, 0),
    "help": (0, 0),
}
USAGE = {
    "join": "/join #alias:server or !room:server",
    "leave": "/leave",
    "invite": "/invite USER  (bob or @bob:server)",
    "kick": "/kick USER [reason]",
    "ban": "/ban USER [reason]",
    "topic": "/topic new topic",
    "me": "/me does something",
    "upload": "/upload path/to/file",
    "react": "/react 👍  (to the latest message)",
    "edit": "/edit corrected text  (your latest message)",
    "reply": "/reply text  (to the latest message from someone else)",
    "dm": "/dm USER  (starts a direct chat: a friend request)",
    "voice": "/voice [--tone HZ]  (join this room's voice channel; /voice leave leaves it)",
    "leave-voice": "/leave-voice  (leave the voice channel)",
    "quit": "/quit",
    "help": "/help  (this list)",
}


def help_text() -> str:
    """Every command with its usage, one a line, for /help."""
    lines = [USAGE[name] for name in SLASH_COMMANDS]
    return "\n".join(["Commands:", *lines, "//text sends a message starting with /"])


@dataclass(frozen=True, slots=True)
class Command:
    name: str  # "say" for a plain message
    args: tuple[str, ...]


class CommandError(ValueError):
    pass


def parse(text: str) -> Command | None:
    """A Command for the composer's text, None for blank input. '//x' sends '/x' literally."""
    text = text.strip()
    if not text:
        return None
    if not text.startswith("/") or text.startswith("//"):
        return Command("say", (text[1:] if text.startswith("//") else text,))
    name, _, rest = text[1:].partition(" ")
    name = name.lower()
    if name not in SLASH_COMMANDS:
        raise CommandError(f"unknown command /{name}; try /{', /'.join(sorted(SLASH_COMMANDS))}")
    minimum, maximum = SLASH_COMMANDS[name]
    rest = rest.strip()
    if maximum == 0:
        args: tuple[str, ...] = ()
    elif maximum == 1:
        args = (rest,) if rest else ()
    else:
        first, _, remainder = rest.partition(" ")
        args = tuple(a for a in (first, remainder.strip()) if a)
    if len(args) < minimum or (maximum == 0 and rest):
        raise CommandError(f"usage: {USAGE[name]}")
    return Command(name, args)


@dataclass(frozen=True, slots=True)
class VoiceRequest:
    leave: bool = False
    tone: float | None = None  # a test tone instead of the microphone


def parse_voice(command: Command) -> VoiceRequest:
    """/voice, /voice --tone HZ, /voice leave, /leave-voice."""
    if command.name == "leave-voice":
        return VoiceRequest(leave=True)
    words = command.args[0].split() if command.args else []
    if words == ["leave"]:
        return VoiceRequest(leave=True)
    if not words:
        return VoiceRequest()
    if len(words) == 2 and words[0] == "--tone":
        try:
            hz = float(words[1])
        except ValueError:
            hz = 0.0
        if 0 < hz < 24_000:
            return VoiceRequest(tone=hz)
    raise CommandError(f"usage: {USAGE['voice']}")
