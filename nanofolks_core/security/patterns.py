"""The built-in credential formats: a pattern, a check and the reference name for each.

The core registers them through ``nanofolks_register_secret_patterns`` like any plugin; the
checks stay here, keyed by pattern name, because a registered pattern is only a regular
expression. A pattern may mark the credential inside a larger match with a ``secret`` group
(``password=(?P<secret>...)``); otherwise the whole match is the credential.

Specific formats (a vendor prefix) win over generic ones (``password=``, ``Bearer``) when two
matches overlap, so ``token=ghp_...`` becomes ``{{github_token}}``, not ``{{password}}``.
"""

from __future__ import annotations

from collections.abc import Callable

import attrs

from nanofolks_core.security import checks


@attrs.frozen
class CredentialFormat:
    """One kind of credential. ``reference`` names its ``{{...}}``; ``generic`` ones lose overlaps."""

    name: str
    pattern: str
    reference: str
    summary: str
    check: Callable[[str], bool] | None = None
    generic: bool = False


def _f(name, pattern, reference, summary, check=None, generic=False) -> CredentialFormat:
    return CredentialFormat(name, pattern, reference, summary, check, generic)


# Word edges that also hold next to ``_`` and ``-``, which ``\b`` does not.
_L = r"(?<![A-Za-z0-9_\-])"
_R = r"(?![A-Za-z0-9_\-])"
_ASSIGN = r"""["']?\s*(?:[:=]|=>|\bis\b)\s*["']?"""

BUILTIN_FORMATS: tuple[CredentialFormat, ...] = (
    # -- model providers
    _f(
        "openrouter-key",
        _L + r"sk-or-v1-[A-Za-z0-9]{32,}",
        "openrouter_key",
        "OpenRouter API keys",
        checks.random_token,
    ),
    _f(
        "anthropic-key", _L + r"sk-ant-(?:api|admin|oat)\d\d-[A-Za-z0-9_\-]{32,}", "anthropic_key", "Anthropic API keys"
    ),
    _f(
        "openai-key",
        _L + r"sk-(?!or-|ant-)(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}" + _R,
        "openai_key",
        "OpenAI API keys (project, service account, legacy)",
        checks.random_token,
    ),
    _f("groq-key", _L + r"gsk_[A-Za-z0-9]{40,}" + _R, "groq_key", "Groq API keys", checks.random_token),
    _f("google-api-key", _L + r"AIza[0-9A-Za-z_\-]{35}" + _R, "google_api_key", "Google / Gemini API keys"),
    _f(
        "google-oauth-secret",
        _L + r"GOCSPX-[A-Za-z0-9_\-]{28}" + _R,
        "google_client_secret",
        "Google OAuth client secrets",
    ),
    _f(
        "huggingface-token",
        _L + r"hf_[A-Za-z0-9]{30,}" + _R,
        "huggingface_token",
        "Hugging Face tokens",
        checks.random_token,
    ),
    _f("xai-key", _L + r"xai-[A-Za-z0-9]{60,}" + _R, "xai_key", "xAI API keys", checks.random_token),
    # -- cloud
    _f("aws-access-key", r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b", "aws_access_key", "AWS access key ids"),
    _f(
        "aws-secret-key",
        r"(?i)(?:aws[_\s-]?)?secret[_\s-]?(?:access[_\s-]?)?key"
        + _ASSIGN
        + r"(?P<secret>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])",
        "aws_secret_key",
        "AWS secret access keys",
        checks.random_secret,
    ),
    _f(
        "azure-storage-key",
        r"(?i)(?:AccountKey\s*=\s*|azure[\w\s\-]{0,24}?key" + _ASSIGN + r")"
        r"(?P<secret>[A-Za-z0-9+/]{86}==)",
        "azure_storage_key",
        "Azure storage account keys",
        checks.random_secret,
    ),
    # -- version control
    _f(
        "github-token",
        _L + r"gh[pousr]_[A-Za-z0-9]{36}" + _R,
        "github_token",
        "GitHub tokens (classic, OAuth, app), CRC32-checked",
        checks.github_classic,
    ),
    _f(
        "github-fine-grained-token",
        _L + r"github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}" + _R,
        "github_token",
        "GitHub fine-grained personal access tokens",
    ),
    _f(
        "gitlab-token",
        _L + r"gl(?:pat|ptt|dt|rt|cbt|oas|ft|imt)-[A-Za-z0-9_\-]{20,}(?:\.[0-9a-z]{2}\.[0-9a-z]{9})?" + _R,
        "gitlab_token",
        "GitLab tokens",
        checks.random_token,
    ),
    # -- payment
    _f(
        "stripe-key",
        _L + r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{24,}" + _R,
        "stripe_key",
        "Stripe secret and restricted keys",
        checks.random_token,
    ),
    _f(
        "stripe-webhook-secret",
        _L + r"whsec_[A-Za-z0-9]{32,}" + _R,
        "stripe_webhook_secret",
        "Stripe webhook signing secrets",
        checks.random_token,
    ),
    # -- messaging
    _f("slack-token", _L + r"xox[abposre]-\d{6,}-[A-Za-z0-9\-]{10,}" + _R, "slack_token", "Slack bot and user tokens"),
    _f(
        "slack-app-token",
        _L + r"xapp-\d-[A-Z0-9]{6,}-\d{6,}-[a-f0-9]{32,}" + _R,
        "slack_app_token",
        "Slack app-level tokens",
    ),
    _f(
        "slack-webhook",
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/T[A-Z0-9]{6,}/[A-Z0-9]{6,}/"
        r"[A-Za-z0-9]{20,}",
        "slack_webhook",
        "Slack incoming webhook URLs",
    ),
    _f(
        "discord-bot-token",
        _L + r"[MNO][A-Za-z0-9_\-]{23,27}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,40}" + _R,
        "discord_token",
        "Discord bot tokens (the user id part is checked)",
        checks.discord_bot,
    ),
    _f(
        "discord-webhook",
        r"https://(?:ptb\.|canary\.)?discord(?:app)?\.com/api/webhooks/\d{17,20}/[A-Za-z0-9_\-]{60,}",
        "discord_webhook",
        "Discord webhook URLs",
    ),
    _f("telegram-bot-token", r"\b\d{8,10}:AA[A-Za-z0-9_\-]{33}" + _R, "telegram_token", "Telegram bot tokens"),
    _f("twilio-api-key", r"\bSK[0-9a-f]{32}\b", "twilio_key", "Twilio API key sids", checks.random_token),
    _f(
        "twilio-auth-token",
        r"(?i)twilio[\w\s\-]{0,24}?(?:auth[_\s-]?)?token" + _ASSIGN + r"(?P<secret>[a-f0-9]{32})\b",
        "twilio_token",
        "Twilio auth tokens",
    ),
    _f("sendgrid-key", _L + r"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}" + _R, "sendgrid_key", "SendGrid API keys"),
    _f(
        "mailgun-key",
        r"\b(?:key-[0-9a-f]{32}|[0-9a-f]{32}-[0-9a-f]{8}-[0-9a-f]{8})\b",
        "mailgun_key",
        "Mailgun API keys",
        checks.random_token,
    ),
    # -- package registries and shops
    _f(
        "npm-token", _L + r"npm_[A-Za-z0-9]{36}" + _R, "npm_token", "npm access tokens, CRC32-checked", checks.npm_token
    ),
    _f("pypi-token", _L + r"pypi-AgE[A-Za-z0-9_\-]{50,}", "pypi_token", "PyPI API tokens"),
    _f("shopify-token", _L + r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}" + _R, "shopify_token", "Shopify access tokens"),
    # -- structured and generic
    _f(
        "private-key",
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----[\s\S]+?-----END (?:[A-Z0-9]+ )*PRIVATE"
        r" KEY(?: BLOCK)?-----",
        "private_key",
        "PEM / OpenSSH / PGP private-key blocks",
    ),
    _f(
        "jwt",
        _L + r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}" + _R,
        "jwt",
        "JSON Web Tokens (header checked)",
        checks.jwt,
    ),
    _f(
        "bearer-token",
        r"(?i)(?:\bbearer\s+|\bauthorization:\s*token\s+)(?P<secret>[A-Za-z0-9_\-.=~+/]{16,})",
        "bearer_token",
        "Authorization bearer tokens",
        checks.random_token,
        generic=True,
    ),
    _f(
        "connection-string",
        r"(?i)\b[a-z][a-z0-9+\-.]*://[^\s:/@]+:(?P<secret>[^\s@/]+)@[^\s/]",
        "db_password",
        "passwords in connection strings and URLs",
        checks.url_password,
        generic=True,
    ),
    _f(
        "password-assignment",
        r"(?i)(?<![A-Za-z0-9])(?:[a-z0-9]+[_\-.])*(?:password|passwd|passphrase|pwd|secret|"
        r"api[_\-]?key|apikey|access[_\-]?token|auth[_\-]?token|client[_\-]?secret|private[_\-]?key)"
        r"[\"']?\s*(?:=|:=|=>|:(?=\s*[\"']))\s*[\"']?(?P<secret>[^\s\"',;]+)",
        "password",
        "password= / api_key= / secret= assignments",
        checks.assignment,
        generic=True,
    ),
    _f(
        "password-prose",
        r"(?i)\b(?:password|passwd|passphrase|api[\s_\-]?key|secret)\s*(?::|\bis\b)\s*[\"'`]?"
        r"(?P<secret>[^\s\"'`,;]+)",
        "password",
        'passwords given in prose ("my password is ...")',
        checks.prose_value,
        generic=True,
    ),
)

FORMATS_BY_NAME = {fmt.name: fmt for fmt in BUILTIN_FORMATS}

#: Lower-case literals one of which any match must contain: a rule whose literals are all absent
#: from a text is not run on it (``in`` is far faster than a regular expression over a long text).
#: Formats without a fixed literal (Discord tokens, new Mailgun keys) always run.
HINTS: dict[str, tuple[str, ...]] = {
    "openrouter-key": ("sk-or-v1-",),
    "anthropic-key": ("sk-ant-",),
    "openai-key": ("sk-",),
    "groq-key": ("gsk_",),
    "google-api-key": ("aiza",),
    "google-oauth-secret": ("gocspx-",),
    "huggingface-token": ("hf_",),
    "xai-key": ("xai-",),
    "aws-access-key": ("akia", "asia", "abia", "acca"),
    "aws-secret-key": ("secret",),
    "azure-storage-key": ("accountkey", "azure"),
    "github-token": ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    "github-fine-grained-token": ("github_pat_",),
    "gitlab-token": ("glpat-", "glptt-", "gldt-", "glrt-", "glcbt-", "gloas-", "glft-", "glimt-"),
    "stripe-key": ("sk_live_", "sk_test_", "rk_live_", "rk_test_"),
    "stripe-webhook-secret": ("whsec_",),
    "slack-token": ("xox",),
    "slack-app-token": ("xapp-",),
    "slack-webhook": ("hooks.slack.com",),
    "discord-webhook": ("discord",),
    "telegram-bot-token": (":aa",),
    "twilio-api-key": ("sk",),
    "twilio-auth-token": ("twilio",),
    "sendgrid-key": ("sg.",),
    "npm-token": ("npm_",),
    "pypi-token": ("pypi-age",),
    "shopify-token": ("shpat_", "shpca_", "shppa_", "shpss_"),
    "private-key": ("private key",),
    "jwt": ("eyj",),
    "bearer-token": ("bearer", "authorization"),
    "connection-string": ("://",),
    "password-assignment": ("pass", "pwd", "secret", "key", "token"),
    "password-prose": ("pass", "key", "secret"),
}
