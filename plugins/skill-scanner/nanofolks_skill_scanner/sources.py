"""What a skill ships, as pieces of text to check: whole files, and the code blocks and inline code
of its Markdown, each knowing its language and the line of the file it starts on.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import attrs

#: Files larger than this are not read; the scanner reports them instead.
MAX_TEXT_FILE = 2_000_000
_IGNORED_DIRS = {"__pycache__", ".git", ".hg", ".svn", ".mypy_cache", ".pytest_cache", ".ruff_cache"}
_PYTHON_LANGS = {"python", "py", "python3", "py3", "pycon", "ipython"}
_SHELL_LANGS = {"sh", "bash", "shell", "zsh", "console", "shell-session", "fish", "ksh", "powershell", "ps1", ""}
_MARKDOWN_SUFFIXES = {".md", ".markdown", ".mdx", ".txt", ".rst"}
_SHELL_SUFFIXES = {".sh", ".bash", ".zsh", ".ksh", ".fish", ".command", ".ps1"}
_FENCE_RE = re.compile(r"^(\s{0,3})(`{3,}|~{3,})\s*([\w+#.-]*)")
_INLINE_CODE_RE = re.compile(r"`([^`\n]+)`")
# Executable formats a person cannot review: ELF, Mach-O (both byte orders, fat), Windows PE.
_BINARY_MAGIC = (b"\x7fELF", b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe",
                 b"\xca\xfe\xba\xbe", b"MZ")  # fmt: skip


@attrs.frozen
class Piece:
    """Text to check. ``kind``: "python", "shell", "prose" (Markdown outside code) or "other";
    ``code``: whether it is code (scripts, code blocks, inline code) rather than prose;
    ``first_line``: the line of ``file`` its first line is on."""

    file: str
    text: str
    kind: str
    code: bool
    first_line: int = 1
    whole_file: bool = False


@attrs.frozen
class Oddity:
    """Something about a file itself: a link out of the skill, a binary, a file too large to read."""

    file: str
    what: str  # "link-outside", "binary", "too-large"
    detail: str


def walk(folder: Path) -> Iterator[Path]:
    """Every file and symbolic link in ``folder``, sorted; links are never followed."""
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d not in _IGNORED_DIRS)
        for name in sorted(files) + [d for d in dirs if Path(root, d).is_symlink()]:
            if not name.endswith((".pyc", ".pyo")):
                yield Path(root, name)


def _language_of(path: Path, head: str) -> str:
    suffix = path.suffix.lower()
    first = head.split("\n", 1)[0]
    if suffix == ".py" or (first.startswith("#!") and "python" in first):
        return "python"
    if suffix in _SHELL_SUFFIXES or (first.startswith("#!") and re.search(r"\b(?:ba|z|k|da)?sh\b", first)):
        return "shell"
    if suffix in _MARKDOWN_SUFFIXES:
        return "markdown"
    return "other"


def pieces(folder: Path) -> tuple[list[Piece], list[Oddity]]:
    """Split every file of the skill in ``folder`` into pieces to check, and note odd files."""
    folder = Path(folder)
    root = folder.resolve()
    found: list[Piece] = []
    odd: list[Oddity] = []
    for path in walk(folder):
        relative = path.relative_to(folder).as_posix()
        if path.is_symlink():
            target = path.resolve()
            if target != root and root not in target.parents:
                odd.append(Oddity(relative, "link-outside", f"links to {os.readlink(path)}"))
            continue
        try:
            size = path.stat().st_size
            if size > MAX_TEXT_FILE:
                odd.append(Oddity(relative, "too-large", f"{size // 1000} kB"))
                continue
            data = path.read_bytes()
        except OSError as exc:
            odd.append(Oddity(relative, "unreadable", str(exc)))
            continue
        if data.startswith(_BINARY_MAGIC) or (b"\0" in data[:4096]):
            if data.startswith(_BINARY_MAGIC):
                odd.append(Oddity(relative, "binary", "an executable program"))
            continue
        text = data.decode("utf-8", errors="replace")
        language = _language_of(path, text[:200])
        if language == "markdown":
            found += markdown_pieces(relative, text)
        else:
            found.append(Piece(relative, text, language, code=True, whole_file=True))
    return found, odd


def markdown_pieces(file: str, text: str) -> list[Piece]:
    """The prose of a Markdown file (one piece per line, with its inline code as code pieces) and its
    fenced code blocks (one piece each; untagged blocks are read as shell)."""
    result: list[Piece] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        line = lines[index]
        fence = _FENCE_RE.match(line)
        if fence is None:
            result.append(Piece(file, line, "prose", code=False, first_line=index + 1))
            result += [
                Piece(file, span, "shell", code=True, first_line=index + 1) for span in _INLINE_CODE_RE.findall(line)
            ]
            index += 1
            continue
        marker, lang = fence[2], fence[3].lower()
        start = index + 1
        end = start
        while end < len(lines) and not lines[end].strip().startswith(marker[0] * len(marker)):
            end += 1
        body = "\n".join(lines[start:end])
        kind = "python" if lang in _PYTHON_LANGS else "shell" if lang in _SHELL_LANGS else "other"
        if lang in ("pycon", "console", "shell-session"):
            body = "\n".join(re.sub(r"^(?:>>>|\.\.\.|\$|#)\s?", "", ln) for ln in body.splitlines())
        result.append(Piece(file, body, kind, code=True, first_line=start + 1))
        index = end + 1
    return result
