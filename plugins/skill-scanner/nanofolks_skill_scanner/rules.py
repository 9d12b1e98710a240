"""The checks bandit does not make, as line patterns over scripts, code blocks and Markdown.

``network`` in Markdown (instructions for the crew to call an API) is Medium; in a script the
skill ships (its own code making network calls) it is raised to High by the scanner.

Severity and confidence follow bandit's scale; the core rates high/high Critical, other high
High, medium Medium and low Low (nanofolks_core's risk policy, see docs/skills.md).
``code_only`` rules look at code (scripts, code blocks, inline code) and not at prose, because
a sentence mentioning a website is not network access; every other rule reads prose too,
because a skill's prose is itself instructions the crew follows.
"""

from __future__ import annotations

import re

import attrs


@attrs.frozen
class Rule:
    """One line check: ``pattern`` found on a line gives a finding with these fields."""

    id: str
    severity: str
    confidence: str
    cwe: str | None
    message: str
    pattern: re.Pattern[str]
    code_only: bool = False


def _re(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_SHELLS = r"(?:sudo\s+(?:-\S+\s+)*)?(?:/\S*/)?(?:ba|z|k|da|fi)?sh\b"
_HOME = r"(?:~|\$HOME|\$\{HOME\}|/root|/home/[\w.-]+|/Users/[\w.-]+)"
_RC_FILES = r"\.(?:bashrc|bash_profile|bash_login|zshrc|zprofile|zshenv|zlogin|profile|config/fish/config\.fish)\b"

RULES: tuple[Rule, ...] = (
    Rule(
        "pipe-to-shell", "high", "high", "CWE-494",
        "downloads code and runs it in a shell unseen (curl/wget ... | sh)",
        _re(rf"\b(?:curl|wget|fetch|iwr|invoke-webrequest)\b[^\n|]*\|\s*{_SHELLS}"
            rf"|\b(?:ba|z)?sh\s+(?:-c\s+)?[\"']?(?:<\(|\$\()\s*(?:curl|wget)\b"
            rf"|\b(?:curl|wget)\b[^\n|]*\|\s*(?:sudo\s+)?python[0-9.]*\b"
            rf"|\biex\s*\(\s*(?:new-object\s+net\.webclient|iwr|invoke-webrequest)"),
    ),
    Rule(
        "pipe-to-shell", "high", "medium", "CWE-78",
        "pipes text into a shell, which runs whatever it is given",
        _re(rf"\|\s*{_SHELLS}(?:\s+-[sx]*)?\s*(?:$|[;&)])"),
    ),
    Rule(
        "rm-rf", "high", "high", "CWE-73",
        "deletes recursively and by force at the root or home folder (rm -rf /, ~, $HOME, *)",
        _re(rf"\brm\s+(?:-[a-z]*\s+)*(?:-[a-z]*r[a-z]*f|-[a-z]*f[a-z]*r|--recursive\s+--force|--force\s+--recursive)"
            rf"[a-z]*\s+(?:--no-preserve-root\s+)?[\"']?(?:/|{_HOME}|\*|/\*|\.\./?)[\"']?(?:/\*?)?(?:\s|$|;|&)"),
    ),
    Rule(
        "rm-rf", "high", "medium", "CWE-73",
        "deletes files recursively and by force (rm -rf)",
        _re(r"\brm\s+(?:-[a-z]*\s+)*(?:-[a-z]*r[a-z]*f|-[a-z]*f[a-z]*r|--recursive\s+--force|--force\s+--recursive)"),
    ),
    Rule(
        "chmod-777", "high", "medium", "CWE-732",
        "makes files writable and runnable by everyone (chmod 777 / a+rwx)",
        _re(r"\bchmod\s+(?:-[a-z]+\s+)*0?777\b|\bchmod\s+(?:-[a-z]+\s+)*[ugoa]*a[ugo]*\+rwx|\bchmod\s+(?:-[a-z]+\s+)*o\+w"
            r"|\bos\.chmod\([^)]*0o?777"),
    ),
    Rule(
        "credential-read", "high", "medium", "CWE-522",
        "reads a credential location (SSH or cloud keys, keychains, .env, .netrc, tokens)",
        _re(r"(?<![\w.])\.(?:ssh|aws|gnupg|kube|docker|azure|gcloud|npmrc|pypirc|netrc|pgpass|git-credentials)\b"
            r"|(?<![\w.])\.env(?:\.[a-z]+)?(?![\w(])|\bid_(?:rsa|dsa|ecdsa|ed25519)\b"
            r"|Library/Keychains|\bsecurity\s+(?:find-(?:generic|internet)-password|dump-keychain|export)\b"
            r"|\bsecret-tool\s+lookup\b|\bkeyring\.get_password\b|\.config/gh/hosts\.yml|login\s+data\b"
            r"|\bcredentials\.json\b|/etc/shadow\b"),
    ),
    Rule(
        "persistence", "high", "high", "CWE-506",
        "makes itself persistent: writes a shell start-up file, cron, systemd or launchd entry",
        _re(rf"(?:>>?|\btee\s+(?:-a\s+)?)\s*[\"']?(?:{_HOME}/)?{_RC_FILES}"
            rf"|{_RC_FILES}[\"']?\s*,\s*[\"'][aw]|open\([^)]*{_RC_FILES}[^)]*[\"'][aw]\+?[\"']"
            r"|\bcrontab\s+(?!-l\b)(?:-[a-z]\s+\S+\s+)?(?:-|[\w./~$-]+)\s*$|\|\s*crontab\b|/etc/cron|/var/spool/cron"
            r"|/etc/crontab|\bsystemctl\s+(?:--user\s+)?(?:enable|link|daemon-reload)\b|/etc/systemd/"
            r"|\.config/systemd/user|Library/Launch(?:Agents|Daemons)|\blaunchctl\s+(?:load|bootstrap|submit)\b"
            r"|/etc/rc\.local|/etc/init\.d/|\.config/autostart|\bschtasks\s+/create\b"
            r"|CurrentVersion\\+Run\b"),
    ),
    Rule(
        "exec-decoded", "high", "high", "CWE-95",
        "runs code it first decodes (base64, hex, compressed): hidden from review",
        _re(r"\bbase64\s+(?:-d|--decode|-D)\b[^\n]*\|\s*(?:sudo\s+)?(?:ba|z|k|da)?sh\b"
            r"|\beval\s+[\"']?\$\((?:[^)]*\b(?:base64|xxd\s+-r|openssl\s+(?:enc\s+)?-d|gunzip|zcat))"
            r"|\b(?:exec|eval)\s*\(\s*(?:base64\.b64decode|codecs\.decode|bytes\.fromhex|zlib\.decompress"
            r"|marshal\.loads|atob|Buffer\.from)\b|__import__\([\"']base64[\"']\)"),
    ),
    Rule(
        "reverse-shell", "high", "high", "CWE-78",
        "opens a shell for a remote machine (/dev/tcp, nc -e, socat exec)",
        _re(r"/dev/(?:tcp|udp)/|\b(?:nc|ncat|netcat)\b[^\n]*\s(?:-e|-c|--exec|--sh-exec)\s|\bsocat\b[^\n]*\bexec:"
            r"|\bos\.dup2\([^)]*fileno"),
    ),
    Rule(
        "network", "medium", "high", None,
        "uses the network (downloads, uploads or calls an external API)",
        _re(r"(?:^|[\s;|&(`\"'])(?:curl|wget|nc|ncat|netcat|telnet|ssh|scp|sftp|rsync|ftp|http|https|xh)\s"
            r"|\bgh\s+(?:api|pr|issue|repo|release|run|workflow|gist|search|auth|browse)\b"
            r"|\bgit\s+(?:clone|fetch|pull|push|ls-remote)\b|\bfetch\(|\baxios\b|XMLHttpRequest|WebSocket\("
            r"|\bhttps?://"),
        code_only=True,
    ),
)  # fmt: skip

#: A line that hands over the whole environment (not one variable).
ENV_DUMP = _re(
    r"\bos\.environ\b(?!\s*(?:\[|\.get\b|\.setdefault\b|\.pop\b))|\bos\.getenv\(\s*\)|\bprocess\.env\b(?!\s*\.\w|\s*\[)"
    r"|(?:^|[\s;|&(`$])(?:env|printenv|set|export\s+-p|declare\s+-x)\s*(?:$|[|>)`;&])|/proc/(?:self|\d+|\$\$)/environ"
)
#: ``env=os.environ`` hands the environment to a child process, which is not sending it anywhere.
ENV_TO_CHILD = _re(r"\benv\s*=\s*(?:dict\(\s*|\{\s*\*\*\s*)?os\.environ")
ENV_EXFIL = Rule(
    "env-exfiltration", "high", "high", "CWE-200",
    "reads the whole environment (API keys included) in code that also uses the network",
    ENV_DUMP,
)  # fmt: skip
ENV_READ = Rule(
    "env-dump", "medium", "medium", "CWE-526",
    "reads the whole environment, API keys included",
    ENV_DUMP,
)  # fmt: skip

#: ``network`` found in a script the skill ships: its own code talks to the network.
SCRIPT_NETWORK = ("high", "medium", "the skill's own script uses the network (it can send data out)")

#: Oddities of files themselves (see sources.Oddity), as findings.
ODDITIES = {
    "link-outside": ("high", "medium", "CWE-59", "is a link pointing outside the skill's folder"),
    "binary": ("high", "medium", "CWE-506", "is an executable program, which cannot be reviewed"),
    "too-large": ("medium", "low", None, "is too large to scan"),
    "unreadable": ("medium", "low", None, "cannot be read, so it was not scanned"),
}
