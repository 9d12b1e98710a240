"""Python checks bandit does not make (or rates too low for a skill), read from the syntax tree:
shell and process execution, ``exec``/``eval`` of decoded data, and network modules.

Bandit rates ``subprocess.run("ls", shell=True)`` Low because the command is a constant; for a
skill the crew runs, starting a shell at all is what the user guide calls Critical.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

import attrs

_SHELL_CALLS = {"os.system", "os.popen", "pty.spawn", "commands.getoutput", "commands.getstatusoutput"}
_PROCESS_CALLS = {
    "subprocess.run", "subprocess.call", "subprocess.check_call", "subprocess.check_output", "subprocess.Popen",
    "subprocess.getoutput", "subprocess.getstatusoutput", "asyncio.create_subprocess_exec",
    "asyncio.create_subprocess_shell", "os.execv", "os.execve", "os.execl", "os.execle", "os.execlp", "os.execvp",
    "os.execvpe", "os.spawnl", "os.spawnv", "os.spawnlp", "os.spawnvp", "os.posix_spawn", "os.posix_spawnp",
}  # fmt: skip
_ALWAYS_SHELL = {"subprocess.getoutput", "subprocess.getstatusoutput", "asyncio.create_subprocess_shell"}
_DECODERS = {
    "base64.b64decode", "base64.b32decode", "base64.b85decode", "base64.a85decode", "base64.decodebytes",
    "base64.urlsafe_b64decode", "b64decode", "codecs.decode", "bytes.fromhex", "binascii.unhexlify",
    "binascii.a2b_base64", "zlib.decompress", "gzip.decompress", "bz2.decompress", "lzma.decompress",
    "marshal.loads", "pickle.loads", "unhexlify", "decompress",
}  # fmt: skip
_RUNNERS = {"exec", "eval", "compile", "builtins.exec", "builtins.eval"}
NETWORK_MODULES = {
    "requests", "urllib", "urllib3", "httpx", "aiohttp", "http", "socket", "ftplib", "smtplib", "telnetlib",
    "paramiko", "websocket", "websockets", "pycurl", "httplib2", "xmlrpc", "poplib", "imaplib",
}  # fmt: skip


@attrs.frozen
class Hit:
    """A finding of these checks, before it is placed in a file."""

    line: int
    rule: str
    severity: str
    confidence: str
    cwe: str | None
    message: str


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str:
    """``subprocess.run`` for ``subprocess.run`` / ``sp.run`` (import subprocess as sp) / ``run`` (from-import)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(aliases.get(node.id, node.id))
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "__import__":
        if node.args and isinstance(node.args[0], ast.Constant):
            parts.append(str(node.args[0].value))
    return ".".join(reversed(parts))


def _aliases(tree: ast.AST) -> dict[str, str]:
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _uses_shell(call: ast.Call) -> bool:
    return any(
        kw.arg == "shell" and not (isinstance(kw.value, ast.Constant) and not kw.value.value) for kw in call.keywords
    )


def _decodes(node: ast.AST, aliases: dict[str, str], decoded_names: set[str]) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call) and _dotted(sub.func, aliases) in _DECODERS:
            return True
        if isinstance(sub, ast.Attribute) and sub.attr == "decode" and isinstance(sub.value, ast.Call):
            if _dotted(sub.value.func, aliases) in _DECODERS:
                return True
        if isinstance(sub, ast.Name) and sub.id in decoded_names:
            return True
    return False


def check_python(source: str) -> tuple[list[Hit], bool]:
    """The hits in ``source``, and whether it parsed (False: only the line rules could read it)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return [], False
    return list(_hits(tree)), True


def _hits(tree: ast.AST) -> Iterator[Hit]:
    aliases = _aliases(tree)
    # Names bound to decoded data anywhere in the module: `code = b64decode(x); exec(code)`.
    decoded: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _decodes(node.value, aliases, decoded):
            decoded |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for module in modules:
                if module.split(".")[0] in NETWORK_MODULES:
                    yield Hit(node.lineno, "network", "medium", "high", None, f"imports {module}: uses the network")
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func, aliases)
        if name in _RUNNERS and any(_decodes(arg, aliases, decoded) for arg in node.args):
            yield Hit(node.lineno, "exec-decoded", "high", "high", "CWE-95", f"{name}() runs decoded data: hidden code")
        elif name in _SHELL_CALLS or name in _ALWAYS_SHELL or (name in _PROCESS_CALLS and _uses_shell(node)):
            yield Hit(node.lineno, "shell-exec", "high", "high", "CWE-78", f"{name}() runs a shell command")
        elif name in _PROCESS_CALLS:
            yield Hit(node.lineno, "process-exec", "high", "medium", "CWE-78", f"{name}() starts another program")
        elif name in ("__import__", "importlib.import_module") and any(
            _decodes(arg, aliases, decoded) for arg in node.args
        ):
            yield Hit(node.lineno, "exec-decoded", "high", "high", "CWE-95", f"{name}() of a decoded module name")
