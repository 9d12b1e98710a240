"""The built-in credential patterns against a corpus of real-format fakes and clean look-alikes.

Run ``python tests/core/test_secret_patterns.py`` to print recall and false positives per format
(the figures in docs/security.md).
"""

from __future__ import annotations

import base64
import binascii
import json
import random
import string

import pytest

from nanofolks_core.security.checks import base62
from nanofolks_core.security.detect import CredentialDetector
from nanofolks_core.security.patterns import BUILTIN_FORMATS
from nanofolks_core.specs import SecretPatternSpec

ALNUM = string.ascii_letters + string.digits
HEX = "0123456789abcdef"


def _rand(rng: random.Random, n: int, alphabet: str = ALNUM) -> str:
    while True:
        text = "".join(rng.choice(alphabet) for _ in range(n))
        # Real generators give every class; a draw without a digit is rare but would be unfair.
        if alphabet != ALNUM or (any(c.isdigit() for c in text) and any(c.isupper() for c in text)):
            return text


def _crc_token(rng: random.Random, prefix: str) -> str:
    body = _rand(rng, 30)
    return prefix + body + base62(binascii.crc32(body.encode()))


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _jwt(rng: random.Random) -> str:
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    claims = _b64url(json.dumps({"sub": str(rng.randint(10**6, 10**9)), "iat": 1700000000}).encode())
    return f"{header}.{claims}.{_rand(rng, 43, ALNUM + '-_')}"


def _discord(rng: random.Random) -> str:
    user = _b64url(str(rng.randint(10**17, 10**19)).encode())
    return f"{user}.{_rand(rng, 6, ALNUM + '-_')}.{_rand(rng, 38, ALNUM + '-_')}"


def _private_key(rng: random.Random, kind: str) -> str:
    lines = "\n".join(_rand(rng, 64, ALNUM + "+/") for _ in range(4))
    return f"-----BEGIN {kind}PRIVATE KEY-----\n{lines}\n-----END {kind}PRIVATE KEY-----"


#: format -> (make(rng) -> the credential, sentence with {} where the user pastes it, expected kind)
GENERATORS = {
    "openai": (lambda r: "sk-proj-" + _rand(r, 156, ALNUM + "-_"), "use this key {} for the run", "openai-key"),
    "openai-legacy": (lambda r: "sk-" + _rand(r, 20) + "T3BlbkFJ" + _rand(r, 20), "OPENAI_API_KEY={}", "openai-key"),
    "anthropic": (
        lambda r: "sk-ant-api03-" + _rand(r, 93, ALNUM + "-_") + "AA",
        "my anthropic key: {}",
        "anthropic-key",
    ),
    "openrouter": (lambda r: "sk-or-v1-" + _rand(r, 64, HEX), "here is {} for openrouter", "openrouter-key"),
    "groq": (lambda r: "gsk_" + _rand(r, 52), "groq: {}", "groq-key"),
    "gemini": (lambda r: "AIza" + _rand(r, 35, ALNUM + "-_"), "GEMINI_API_KEY={} ok?", "google-api-key"),
    "google-oauth": (lambda r: "GOCSPX-" + _rand(r, 28, ALNUM + "-_"), "client secret {}", "google-oauth-secret"),
    "huggingface": (
        lambda r: "hf_" + _rand(r, 34, string.ascii_letters + string.digits),
        "HF token {}.",
        "huggingface-token",
    ),
    "aws-access": (
        lambda r: "AKIA" + _rand(r, 16, string.ascii_uppercase + string.digits),
        "key id {}",
        "aws-access-key",
    ),
    "aws-secret": (lambda r: _rand(r, 40, ALNUM + "/+"), "aws_secret_access_key = {}", "aws-secret-key"),
    "azure-storage": (
        lambda r: _rand(r, 86, ALNUM + "+/") + "==",
        "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey={};EndpointSuffix=core.windows.net",
        "azure-storage-key",
    ),
    "github-classic": (lambda r: _crc_token(r, "ghp_"), "push with {} please", "github-token"),
    "github-oauth": (lambda r: _crc_token(r, "gho_"), "token={}", "github-token"),
    "github-fine-grained": (
        lambda r: "github_pat_11" + _rand(r, 20) + "_" + _rand(r, 59),
        "PAT: {}",
        "github-fine-grained-token",
    ),
    "gitlab": (lambda r: "glpat-" + _rand(r, 20, ALNUM + "-_"), "gitlab {} thanks", "gitlab-token"),
    "stripe-live": (lambda r: "sk_live_" + _rand(r, 99), "stripe {}", "stripe-key"),
    "stripe-restricted": (lambda r: "rk_live_" + _rand(r, 24), "restricted key {}", "stripe-key"),
    "slack-bot": (
        lambda r: f"xoxb-{r.randint(10**11, 10**12)}-{r.randint(10**12, 10**13)}-" + _rand(r, 24),
        "slack bot {}",
        "slack-token",
    ),
    "slack-app": (
        lambda r: (
            f"xapp-1-A{_rand(r, 10, string.ascii_uppercase + string.digits)}-"
            f"{r.randint(10**12, 10**13)}-{_rand(r, 64, HEX)}"
        ),
        "app token {}",
        "slack-app-token",
    ),
    "slack-webhook": (
        lambda r: (
            "https://hooks.slack.com/services/T"
            + _rand(r, 8, string.ascii_uppercase + string.digits)
            + "/B"
            + _rand(r, 10, string.ascii_uppercase + string.digits)
            + "/"
            + _rand(r, 24)
        ),
        "post to {}",
        "slack-webhook",
    ),
    "discord-bot": (_discord, "discord bot token {}", "discord-bot-token"),
    "telegram": (
        lambda r: f"{r.randint(10**8, 10**9)}:AA" + _rand(r, 33, ALNUM + "-_"),
        "bot {}",
        "telegram-bot-token",
    ),
    "twilio-key": (lambda r: "SK" + _rand(r, 32, HEX), "twilio {}", "twilio-api-key"),
    "twilio-auth": (lambda r: _rand(r, 32, HEX), "TWILIO_AUTH_TOKEN={}", "twilio-auth-token"),
    "sendgrid": (
        lambda r: "SG." + _rand(r, 22, ALNUM + "-_") + "." + _rand(r, 43, ALNUM + "-_"),
        "sendgrid {}",
        "sendgrid-key",
    ),
    "mailgun": (lambda r: "key-" + _rand(r, 32, HEX), "mailgun {}", "mailgun-key"),
    "mailgun-new": (
        lambda r: _rand(r, 32, HEX) + "-" + _rand(r, 8, HEX) + "-" + _rand(r, 8, HEX),
        "MAILGUN_KEY {}",
        "mailgun-key",
    ),
    "npm": (lambda r: _crc_token(r, "npm_"), "//registry.npmjs.org/:_authToken={}", "npm-token"),
    "pypi": (lambda r: "pypi-AgEIcHlwaS5vcmc" + _rand(r, 140, ALNUM + "-_"), "twine password {}", "pypi-token"),
    "shopify": (lambda r: "shpat_" + _rand(r, 32, HEX), "shopify {}", "shopify-token"),
    "bearer": (lambda r: _rand(r, 40, ALNUM + "-_."), "Authorization: Bearer {}", "bearer-token"),
    "jwt": (_jwt, "session cookie {}", "jwt"),
    "private-key": (lambda r: _private_key(r, "RSA "), "my key:\n{}\nthanks", "private-key"),
    "openssh-key": (lambda r: _private_key(r, "OPENSSH "), "{}", "private-key"),
    "connection-string": (
        lambda r: _rand(r, 14),
        "DATABASE_URL=postgres://app:{}@db.internal:5432/app",
        "connection-string",
    ),
    "password-assignment": (lambda r: _rand(r, 12, ALNUM + "!#%^&"), "db password={} in prod", "password-assignment"),
    "password-json": (
        lambda r: _rand(r, 16, ALNUM + "!#%^&"),
        '{{"user": "bob", "password": "{}"}}',
        "password-assignment",
    ),
    "password-prose": (lambda r: _rand(r, 10) + "!", "my password is {} for the vpn", "password-prose"),
}

#: Ordinary text that looks like a credential and must come out unchanged.
CLEAN = [
    "pip install scikit-learn and read the sk-learn-tutorial-for-beginners page",
    "sk-your-api-key-here goes in config.json",
    "Set OPENAI_API_KEY=sk-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx before running",
    "the task-identifier-for-the-nightly-job-runner is printed",
    "call hf_hub_download(repo_id='gpt2') to fetch the model",
    "AKIAEXAMPLE is not a key, nor is akiaiosfodnn7example",
    "commit 3f786850e387550fdab836ed7e6dc881de23001b fixed it",
    "sha256: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "the uuid is 123e4567-e89b-12d3-a456-426614174000",
    "ghp_ tokens start with a prefix, e.g. ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "npm_config_cache=/tmp/npm is an environment variable",
    "github_pat_ is the prefix of fine-grained tokens",
    "use glpat-xxxxxxxxxxxxxxxxxxxx as a placeholder",
    "Bearer authentication is described in RFC 6750",
    "send the header Authorization: Bearer <token> with each call",
    "Authorization: Bearer ${API_TOKEN}",
    "password = os.environ['DB_PASSWORD']",
    "password: required",
    "password=None",
    "the password is stored in the keyring",
    "my password is secret",
    "api_key = settings.OPENAI_KEY",
    "secret=env:MY_SECRET",
    "token: keyring:github",
    "password={{db_password}}",
    "the reference {{github_token}} stays as it is",
    "postgres://app:${DB_PASS}@db:5432/app",
    "postgres://localhost:5432/app",
    "https://user@example.com/path",
    "mailto:someone@example.com",
    "http://example.com:8080/path?x=1",
    "ssh git@github.com:owner/repo.git",
    "eyJhbGciOiJIUzI1NiJ9 alone is only a header",
    "eyJabc.eyJdef.ghi is too short",
    "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA\n-----END PUBLIC KEY-----",
    "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0B\n-----END CERTIFICATE-----",
    "xoxb is the prefix of Slack bot tokens",
    "see https://hooks.slack.com/ for incoming webhooks",
    "https://discord.com/api/webhooks is where webhooks live",
    "call 123456789:0 to reach the front desk",
    "the time was 12345678:30 on the log clock",
    "SKU SK12 is out of stock",
    "key-value stores like redis",
    "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==",
    "integrity sha512-AccountKeyIsNotHere",
    "shpat_ is Shopify's prefix",
    "rk_live_ and sk_live_ are Stripe prefixes",
    "sk_test_xxxxxxxxxxxxxxxxxxxxxxxx in the docs",
    "pypi-AgE is how PyPI tokens start",
    "SG.example.key is not a key",
    "The secret: patience and a good night's sleep",
    "Token ring networks were popular",
    "token economics of the protocol",
    "AIza is the prefix of Google API keys",
    "x = hash('password123') is in the tutorial about hashing",
    "version 1.2.3-alpha+build.2024.01.01",
    "DefaultEndpointsProtocol=https;AccountName=acme;EndpointSuffix=core.windows.net",
    # Found by scanning this repository's own code and docs:
    "server = FakeLLMServer(port=args.port, api_key=args.api_key)",
    'secret = tmp_path / "outside"',
    "export OPENROUTER_API_KEY=sk-or-... then run nanofolks",
    "URL credentials: ``https://user:pass@host`` are masked",
    '"password= / api_key= / secret= assignments",',
    "password = required_field",
    '{"password": "", "apiKey": "env:OPENAI_API_KEY", "token": "keyring:github"}',
    "password: ******** (hidden)",
    "Set timeout=30000 and retries=5; the token count is 4096",
    "secret: the meaning of life is 42",
    "My password is correct horse battery staple",
    '{"password": "<your password here>"}',
]


def corpus(seed: int = 7, per_format: int = 3) -> list[tuple[str, str, str, str]]:
    """(format, text, credential, expected kind) for ``per_format`` fakes of every format."""
    rng = random.Random(seed)
    rows = []
    for name, (make, sentence, kind) in GENERATORS.items():
        for _ in range(per_format):
            value = make(rng)
            rows.append((name, sentence.format(value), value, kind))
    return rows


def builtin_detector() -> CredentialDetector:
    return CredentialDetector(
        SecretPatternSpec(name=f.name, summary=f.summary, pattern=f.pattern) for f in BUILTIN_FORMATS
    )


def measure(seed: int = 7) -> dict:
    """Recall over the corpus and the share of clean texts changed by the sanitizer."""
    detector = builtin_detector()
    rows = corpus(seed)
    missed = []
    for name, text, value, kind in rows:
        found = detector.find(text)
        masked = detector.mask(text)
        if value in masked or not any(d.value == value and d.kind == kind for d in found):
            missed.append((name, text))
    false_positives = [text for text in CLEAN if detector.mask(text) != text]
    return {
        "credentials": len(rows),
        "formats": len(GENERATORS),
        "recall": (len(rows) - len(missed)) / len(rows),
        "missed": missed,
        "clean": len(CLEAN),
        "false_positive_rate": len(false_positives) / len(CLEAN),
        "false_positives": false_positives,
    }


def test_corpus_is_as_large_as_promised():
    rows = corpus()
    assert len(rows) >= 100 and len(GENERATORS) >= 30 and len(CLEAN) >= 50
    assert len({value for _, _, value, _ in rows}) == len(rows)


@pytest.mark.parametrize("seed", [7, 8, 9])
def test_recall_and_false_positives(seed):
    figures = measure(seed)
    assert figures["recall"] >= 0.99, figures["missed"]
    assert figures["false_positive_rate"] <= 0.02, figures["false_positives"]


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_every_format_is_found_with_its_own_kind(name):
    make, sentence, kind = GENERATORS[name]
    value = make(random.Random(name))
    found = builtin_detector().find(sentence.format(value))
    assert [(d.kind, d.value) for d in found] == [(kind, value)]


def test_masking_keeps_a_recognisable_start_only():
    key = "sk-or-v1-" + "ab12cd34" * 8
    masked = builtin_detector().mask(f"key {key} end")
    assert masked == "key sk-or-v1-ab*** end"


def test_a_token_with_a_broken_checksum_is_still_hidden_but_a_placeholder_is_not():
    rng = random.Random(1)
    good = _crc_token(rng, "ghp_")
    broken = good[:-1] + ("A" if good[-1] != "A" else "B")
    detector = builtin_detector()
    assert detector.find(good) and detector.find(broken)
    assert detector.find("npm_aB3dE5gH7jK9mN1pQ3sT5vX7zA9cE1gI3kM5")
    assert not detector.find("ghp_" + "x" * 36) and not detector.find("ghp_abcdefghijklmnopqrstuvwxyz0123456789")


def test_specific_format_wins_over_generic_assignment():
    token = _crc_token(random.Random(2), "ghp_")
    (found,) = builtin_detector().find(f"export GITHUB_TOKEN={token}; password={token}")[:1]
    assert found.kind == "github-token"
    kinds = {d.kind for d in builtin_detector().find(f"token={token} password={token}")}
    assert kinds == {"github-token"}


def test_a_plugin_pattern_counts_with_its_secret_group():
    spec = SecretPatternSpec(name="acme-key", summary="Acme", pattern=r"acme_key\((?P<secret>[0-9]{12})\)")
    detector = CredentialDetector([spec])
    (found,) = detector.find("call acme_key(123456789012) now")
    assert (found.kind, found.reference, found.value) == ("acme-key", "acme_key", "123456789012")
    assert detector.mask("acme_key(123456789012)") == "acme_key(123***)"


if __name__ == "__main__":
    import time

    started = time.perf_counter()
    figures = measure()
    elapsed = time.perf_counter() - started
    print(f"credentials: {figures['credentials']} over {figures['formats']} formats")
    print(f"recall: {figures['recall']:.1%} (missed {len(figures['missed'])})")
    for name, text in figures["missed"]:
        print(f"  missed {name}: {text[:100]!r}")
    fp = figures["false_positives"]
    print(f"clean look-alikes: {figures['clean']}, changed: {len(fp)} ({figures['false_positive_rate']:.1%})")
    for text in fp:
        print(f"  changed: {text[:100]!r}")
    print(f"time: {elapsed * 1000:.0f} ms for {figures['credentials'] + figures['clean']} texts")
