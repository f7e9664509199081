"""What a version may look like: plain ASCII digits, in dot-separated groups (1, 007, 2024.010).

Python's \\d and str.isdigit() also accept other scripts' digits (Arabic-Indic, full-width "２０２４"), which
sort and compare in ways nobody reading the name expects; they are refused with a message that says so.
"""

from __future__ import annotations

import re

PLAIN_VERSION = re.compile(r"[0-9]+(?:\.[0-9]+)*", re.ASCII)


def version_problem(text: str) -> str | None:
    """Why text is not a plain version, or None when it is one."""
    if PLAIN_VERSION.fullmatch(text):
        return None
    if not text:
        return "the version is empty"
    odd = [ch for ch in text if not (ch.isascii() and (ch.isdigit() or ch == "."))]
    if odd:
        shown = ", ".join(f"{ch!r} (U+{ord(ch):04X})" for ch in dict.fromkeys(odd))
        return f"the version {text!r} holds characters other than ASCII digits and dots: {shown}"
    if text.startswith(".") or text.endswith("."):
        return f"the version {text!r} starts or ends with a dot"
    return f"the version {text!r} has an empty group between two dots"
