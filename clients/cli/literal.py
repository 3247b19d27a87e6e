"""Text that other people wrote, made safe to show literally in a terminal (pure).

Message bodies, display names, room names, topics and file names come from anyone in a
room. Shown raw, an escape sequence could move the cursor, retitle the window or hide
text, a carriage return could overwrite a line, and a bidi override could make text read
backwards (Trojan Source). Every control character is replaced with a visible stand-in:
C0 controls with their Unicode "Control Pictures" (ESC becomes ␛), DEL with ␡, C1
controls and bidi embedding/override/isolate marks with U+FFFD. Markup is a separate
concern: the chat UI never parses remote text as markup (it passes ``rich`` Text
objects, see ``plain``).
"""

from __future__ import annotations

from rich.text import Text

REPLACEMENT = "\ufffd"
# Bidi formatting characters: embeddings, overrides, isolates and the implicit marks.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


def _table(*, multiline: bool) -> dict[int, str]:
    table: dict[int, str] = {c: chr(0x2400 + c) for c in range(0x20)}
    table[0x7F] = "\u2421"
    table.update({c: REPLACEMENT for c in range(0x80, 0xA0)})
    table.update({ord(c): REPLACEMENT for c in BIDI_CONTROLS})
    if multiline:
        table[ord("\n")] = "\n"
        table[ord("\t")] = "    "
        table[0x2028] = "\n"  # LINE SEPARATOR
        table[0x2029] = "\n"  # PARAGRAPH SEPARATOR
    else:
        table[ord("\t")] = " "
        table[0x2028] = "\u2424"
        table[0x2029] = "\u2424"
    return table


_MULTILINE = _table(multiline=True)
_ONE_LINE = _table(multiline=False)


def shown(text: object, *, multiline: bool = True) -> str:
    """`text` with every terminal control neutralised (newlines kept when `multiline`)."""
    return str(text).translate(_MULTILINE if multiline else _ONE_LINE)


def one_line(text: object) -> str:
    """For names, titles and labels: newlines become visible ␊ too."""
    return shown(text, multiline=False)


def plain(text: object) -> Text:
    """A Textual/rich renderable showing `text` literally: no markup, controls neutralised."""
    return Text(shown(text), no_wrap=False)
