"""FileSessionStore: real processes writing real files at the same time."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import attrs
import pytest

from nanofolks_core.sessions import (
    FileSessionStore,
    SessionConflictError,
    SessionCorruptError,
    SessionMessage,
)

REPO = Path(__file__).resolve().parents[2]

# A writer process: appends messages "<writer>:<i>:<padding>" until it has done `count`
# (or forever when count < 0) and records each acknowledged id + returned version in `ack`
# only after append() returned. `crash_after`/`crash_at` make it SIGKILL itself inside the
# store's write path (half-way through an os.write, or in os.replace while holding the lock).
WORKER = textwrap.dedent(
    """
    import os, signal, sys, time, uuid
    from pathlib import Path
    from nanofolks_core.sessions import FileSessionStore, SessionMessage

    root, room, writer, count, go, ack, use_cas, size, crash_after, crash_at = sys.argv[1:]
    count, size, crash_after = int(count), int(size), int(crash_after)
    store = FileSessionStore(Path(root), use_cas=use_cas == "1")
    run = uuid.uuid4().hex[:8]

    def arm():
        if crash_at == "write":
            real = os.write
            def half_write(fd, data):
                real(fd, bytes(data[: max(1, len(data) // 2)]))
                os.kill(os.getpid(), signal.SIGKILL)
            os.write = half_write
        elif crash_at == "replace":
            def die(*args, **kwargs):
                os.kill(os.getpid(), signal.SIGKILL)
            os.replace = die

    while not os.path.exists(go):
        time.sleep(0.001)
    out = open(ack, "a", encoding="utf-8")
    i = 0
    while count < 0 or i < count:
        if i == crash_after:
            arm()
        msg = SessionMessage("user", f"{writer}:{i}:" + "x" * size, bot=writer,
                             channel="test", id=f"{writer}-{run}-{i}")
        version = store.append(room, msg)
        out.write(f"{msg.id} {version}\\n")
        out.flush()
        i += 1
    """
)


@pytest.fixture
def worker(tmp_path: Path):
    script = tmp_path / "worker.py"
    script.write_text(WORKER, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs: list[subprocess.Popen] = []

    def start(root, room, writer, *, count, go, ack, use_cas=True, size=0, crash_after=-1, crash_at="none"):
        args = [root, room, writer, count, go, ack, "1" if use_cas else "0", size, crash_after, crash_at]
        proc = subprocess.Popen([sys.executable, str(script), *map(str, args)], env=env)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def acked(path: Path) -> list[tuple[str, int]]:
    """Complete lines only: a writer killed mid-line did not acknowledge that message."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")[:-1]  # last element is "" or a partial line
    return [(line.split()[0], int(line.split()[1])) for line in lines]


def raw_messages(root: Path, room: str) -> list[dict]:
    """Read the on-disk format directly (not through the store) and check it."""
    head = json.loads((root / room / "head.json").read_bytes().decode("utf-8"))
    assert head["format"] == 1 and head["kind"] == "nanofolks.session.head"
    out = []
    for seg in head["segments"]:
        doc = json.loads((root / room / seg["file"]).read_bytes().decode("utf-8"))
        assert doc["format"] == 1 and len(doc["messages"]) == seg["count"]
        out += doc["messages"]
    return out + head["messages"]


def check_history(root: Path, room: str, ack_ids: set[str] | None = None):
    """Return per-writer index lists; assert no duplicate and no corrupt message."""
    store_msgs = FileSessionStore(root).read(room)
    raw = raw_messages(root, room)
    assert [m.id for m in store_msgs] == [m["id"] for m in raw]
    ids = Counter(m.id for m in store_msgs)
    dups = {i: n for i, n in ids.items() if n > 1}
    assert not dups, f"duplicated: {list(dups)[:5]}"
    per_writer: dict[str, list[int]] = {}
    for m in store_msgs:
        writer, index, _ = m.content.split(":", 2)
        assert m.bot == writer and m.id.startswith(writer + "-") and m.id.endswith(f"-{index}"), m
        per_writer.setdefault(m.id.rsplit("-", 1)[0], []).append(int(index))
    if ack_ids is not None:
        lost = ack_ids - set(ids)
        assert not lost, f"{len(lost)} acknowledged messages lost, e.g. {sorted(lost)[:5]}"
    return per_writer


def strays(root: Path, room: str) -> list[str]:
    return sorted(p.name for p in (root / room).iterdir() if p.name.startswith(".tmp-"))


# ---------------------------------------------------------------- concurrency


def test_eight_processes_two_hundred_appends_each_lose_nothing(tmp_path, worker):
    root, go = tmp_path / "store", tmp_path / "go"
    n_proc, n_msg = 8, 200
    procs = [worker(root, "general", f"w{k}", count=n_msg, go=go, ack=tmp_path / f"ack{k}") for k in range(n_proc)]
    time.sleep(0.5)  # let the interpreters start so the writers really overlap
    go.touch()
    for proc in procs:
        assert proc.wait(timeout=120) == 0

    acks = [acked(tmp_path / f"ack{k}") for k in range(n_proc)]
    all_ids = {i for a in acks for i, _ in a}
    assert len(all_ids) == n_proc * n_msg
    per_writer = check_history(root, "general", all_ids)
    assert sum(len(v) for v in per_writer.values()) == n_proc * n_msg  # 0 lost, 0 extra
    for writer, indexes in per_writer.items():
        assert indexes == list(range(n_msg)), f"{writer} out of order"
    # every append committed exactly one new version, and each writer saw its own go up
    versions = [v for a in acks for _, v in a]
    assert sorted(versions) == list(range(1, n_proc * n_msg + 1))
    for a in acks:
        assert [v for _, v in a] == sorted(v for _, v in a)
    assert FileSessionStore(root).version("general") == n_proc * n_msg
    assert strays(root, "general") == []  # losers removed their temp files


def test_use_cas_false_may_lose_but_never_corrupts(tmp_path, worker):
    root, go = tmp_path / "store", tmp_path / "go"
    procs = [worker(root, "r", f"w{k}", count=60, go=go, ack=tmp_path / f"ack{k}", use_cas=False) for k in range(4)]
    time.sleep(0.3)
    go.touch()
    for proc in procs:
        assert proc.wait(timeout=60) == 0
    per_writer = check_history(root, "r")  # readable, no duplicate, no corrupt message
    for indexes in per_writer.values():
        assert indexes == sorted(indexes)
    lost = 4 * 60 - sum(len(v) for v in per_writer.values())
    print(f"use_cas=False lost {lost} of 240 (expected with concurrent writers)")
    assert strays(root, "r") == []


# ---------------------------------------------------------------- crashes


def test_sigkill_at_random_moments_keeps_every_acknowledged_message(tmp_path, worker):
    root, go = tmp_path / "store", tmp_path / "go"
    go.touch()
    rng = random.Random()
    acks: list[Path] = []
    alive: list[subprocess.Popen] = []

    def spawn():
        ack = tmp_path / f"ack{len(acks)}"
        acks.append(ack)
        # 3 KB messages: big writes widen the window a kill can land in; the head spills
        # into segments often, so kills also hit segment writes.
        alive.append(worker(root, "general", f"w{len(acks)}", count=-1, go=go, ack=ack, size=3000))

    reader = FileSessionStore(root)
    seen: list[str] = []
    reads = 0

    def watch(seconds: float) -> None:
        """Read while the writers write: never a half-written file, and the history only
        ever grows at the end (what one read saw is a prefix of the next read)."""
        nonlocal seen, reads
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            now = [m.id for m in reader.read("general")]
            assert now[: len(seen)] == seen, "history changed under a reader"
            seen, reads = now, reads + 1

    for _ in range(3):
        spawn()
    for _ in range(6):
        watch(rng.uniform(0.2, 0.8))
        victim = alive.pop(rng.randrange(len(alive)))
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        spawn()
    watch(rng.uniform(0.2, 0.5))
    for proc in alive:
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    ack_ids = {i for a in acks for i, _ in acked(a)}
    assert len(ack_ids) > 50 and reads > 10, "writers/reader barely ran; proves nothing"
    per_writer = check_history(root, "general", ack_ids)
    for writer, indexes in per_writer.items():
        assert indexes == list(range(len(indexes))), f"{writer} has gaps or disorder"

    store = FileSessionStore(root)
    before = [m.id for m in store.read("general")]
    removed = store.cleanup("general", older_than=0)
    print(f"{len(ack_ids)} acknowledged, {removed} stray files from killed writers swept")
    assert strays(root, "general") == []
    assert [m.id for m in store.read("general")] == before
    # nobody holds the lock any more: a fresh append goes through
    store.append("general", SessionMessage("user", "after the storm"))
    assert store.read("general", limit=1)[0].content == "after the storm"


@pytest.mark.parametrize("crash_at", ["write", "replace"])
def test_sigkill_inside_the_write_path(tmp_path, worker, crash_at):
    """Kill the writer half-way through writing a segment file ("write", the 257th append
    spills the head) or inside os.replace while it holds the room lock ("replace")."""
    root, go, ack = tmp_path / "store", tmp_path / "go", tmp_path / "ack"
    go.touch()
    proc = worker(root, "general", "w0", count=1000, go=go, ack=ack, crash_after=256, crash_at=crash_at)
    assert proc.wait(timeout=60) == -signal.SIGKILL
    ack_ids = {i for i, _ in acked(ack)}
    assert len(ack_ids) == 256
    assert check_history(root, "general", ack_ids) == {next(iter(ack_ids)).rsplit("-", 1)[0]: list(range(256))}
    leftovers = [p.name for p in (root / "general").iterdir() if p.name not in (".lock", "head.json")]
    assert leftovers, "the crash left no partial file; the test did not hit the write path"

    # the dead writer's lock is gone: another process can append (with a timeout, not a hang)
    code = (
        "from pathlib import Path; from nanofolks_core.sessions import *; "
        f"FileSessionStore(Path({str(root)!r})).append('general', SessionMessage('user', 'next'))"
    )
    subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(REPO)}, check=True, timeout=30)
    store = FileSessionStore(root)
    assert len(store.read("general")) == 257
    assert store.cleanup("general", older_than=0) >= 1
    assert sorted(p.name for p in (root / "general").iterdir())[:2] == [".lock", "head.json"]
    assert len(store.read("general")) == 257


# ---------------------------------------------------------------- compare-and-set


def msg(text: str, **kw) -> SessionMessage:
    return SessionMessage("user", text, **kw)


def test_replace_with_stale_version_raises_and_changes_nothing(tmp_path):
    store = FileSessionStore(tmp_path)
    store.append("general", msg("a"), msg("b"))
    stale = store.version("general")
    store.append("general", msg("c"))
    before = store.read("general")
    with pytest.raises(SessionConflictError) as info:
        store.replace("general", [msg("summary")], expected_version=stale)
    assert "general" in str(info.value) and str(store.path_for("general")) in str(info.value)
    assert store.read("general") == before
    assert store.version("general") == stale + 1
    assert strays(tmp_path, "general") == []
    # with the current version it works, and old segments go away
    v = store.replace("general", [msg("summary")], expected_version=stale + 1)
    assert v == stale + 2 and [m.content for m in store.read("general")] == ["summary"]


def test_replace_of_long_history_and_segment_removal(tmp_path):
    store = FileSessionStore(tmp_path)
    msgs = [msg(f"m{i}") for i in range(1000)]
    v = store.append("r", *msgs)
    assert [m.content for m in store.read("r")] == [f"m{i}" for i in range(1000)]
    v = store.replace("r", msgs[500:], expected_version=v)
    assert store.read("r") == msgs[500:]
    store.append("r", msg("x"))
    assert store.read("r", limit=2) == [msgs[-1], store.read("r")[-1]]
    names = {p.name for p in (tmp_path / "r").iterdir()}
    head = json.loads((tmp_path / "r" / "head.json").read_text(encoding="utf-8"))
    assert {s["file"] for s in head["segments"]} == {n for n in names if n.startswith("seg-")}


def test_concurrent_append_between_read_and_commit_is_merged(tmp_path):
    """The commit must compare against what the append *read*, not re-read just before it."""
    other = msg("from another process", bot="coder")

    class Interleaved(FileSessionStore):
        fired = False

        def _prepare(self, room, path, head, new):
            plan = super()._prepare(room, path, head, new)
            if not self.fired:
                self.fired = True
                FileSessionStore(self.root).append(room, other)  # lands after our read
            return plan

    store = Interleaved(tmp_path)
    mine = msg("mine", bot="leader")
    assert store.append("general", mine) == 2
    assert store.read("general") == [other, mine]
    assert strays(tmp_path, "general") == []


def test_append_gives_up_after_retries_with_a_clear_error(tmp_path):
    class AlwaysMoved(FileSessionStore):
        def _current_head_bytes(self, path):
            return b"someone else committed"

    store = FileSessionStore(tmp_path)
    store.append("general", msg("kept"))
    with pytest.raises(SessionConflictError) as info:
        AlwaysMoved(tmp_path, max_retries=4).append("general", msg("lost"))
    assert "general" in str(info.value) and "head.json" in str(info.value)
    assert [m.content for m in store.read("general")] == ["kept"]
    assert strays(tmp_path, "general") == []


def test_duplicate_ids_are_dropped(tmp_path):
    store = FileSessionStore(tmp_path)
    m = msg("once")
    v = store.append("r", m, m)
    assert store.append("r", m) == v  # a retried append is harmless
    assert store.read("r") == [m]


# ---------------------------------------------------------------- basics


@pytest.mark.parametrize(
    "bad", ["", "General", "a/b", "../x", "a" * 65, "a\n", "é", ".lock", "sp ace", None, 7, "-", "--help", "-x"]
)
def test_invalid_room_names_are_rejected(tmp_path, bad):
    store = FileSessionStore(tmp_path)
    for call in (
        lambda: store.append(bad, msg("x")),
        lambda: store.read(bad),
        lambda: store.path_for(bad),
        lambda: store.delete(bad),
        lambda: store.replace(bad, [], expected_version=0),
    ):
        with pytest.raises(ValueError, match="lowercase letter"):
            call()
    assert not any(tmp_path.iterdir())


def test_valid_room_names(tmp_path):
    store = FileSessionStore(tmp_path)
    for name in ["a", "general", "team-1_x", "0" * 64, "_", "x-"]:
        store.append(name, msg(name))
    assert store.rooms() == sorted(["a", "general", "team-1_x", "0" * 64, "_", "x-"])


def test_missing_room(tmp_path):
    store = FileSessionStore(tmp_path / "nothing-here")
    assert store.read("ghost") == [] and store.version("ghost") == 0 and store.rooms() == []
    store.delete("ghost")
    assert not (tmp_path / "nothing-here").exists()


def test_limit(tmp_path):
    store = FileSessionStore(tmp_path)
    msgs = [msg(str(i)) for i in range(700)]  # spans segments and the head
    for i in range(0, 700, 100):
        store.append("r", *msgs[i : i + 100])
    assert store.read("r") == msgs
    assert store.read("r", limit=0) == []
    for n in (1, 5, 256, 257, 300, 699, 700, 5000):
        assert store.read("r", limit=n) == msgs[-n:]
    with pytest.raises(ValueError):
        store.read("r", limit=-1)


def test_unicode_round_trips(tmp_path):
    store = FileSessionStore(tmp_path)
    texts = [
        "héllo wörld",
        "日本語のテキスト",
        "emoji 🧑‍🚀🚀",
        "עברית",
        "e\u0301",
        "nul\x00byte",
        "lone \ud800 surrogate",
        'quotes " and \\ backslash\n',
    ]
    sent = [
        SessionMessage(
            "assistant", t, bot="leader", channel="telegram", meta={"tokens": 3, "tool_calls": [{"name": "ß"}]}
        )
        for t in texts
    ]
    store.append("r", *sent[:-2])
    store.append("r", *sent[-2:])
    # a lone surrogate cannot be sent to any model API: it is stored (and read back) as U+FFFD
    expected = [attrs.evolve(m, content=m.content.replace("\ud800", "\ufffd")) for m in sent]
    assert store.read("r") == expected
    assert FileSessionStore(tmp_path).read("r") == expected
    raw = (tmp_path / "r" / "head.json").read_bytes()
    raw.decode("utf-8")  # valid UTF-8, no escaped surrogate
    assert b"\\ud800" not in raw


def test_use_cas_false_single_process(tmp_path):
    store = FileSessionStore(tmp_path, use_cas=False)
    msgs = [msg(f"m{i}") for i in range(300)]
    for i, m in enumerate(msgs, 1):
        assert store.append("r", m) == i
    assert store.read("r") == msgs and store.read("r", limit=2) == msgs[-2:]
    assert not (tmp_path / "r" / ".lock").exists()  # it really skipped the lock


def test_delete_keeps_counting_versions(tmp_path):
    store = FileSessionStore(tmp_path)
    store.append("r", msg("a"), msg("b"))
    store.append("r", *[msg(str(i)) for i in range(600)])
    store.delete("r")
    assert store.read("r") == [] and store.rooms() == [] and store.version("r") == 3
    assert not any(p.name.startswith("seg-") for p in (tmp_path / "r").iterdir())
    with pytest.raises(SessionConflictError):
        store.replace("r", [msg("stale")], expected_version=2)
    assert store.append("r", msg("again")) == 4
    assert [m.content for m in store.read("r")] == ["again"] and store.rooms() == ["r"]


def test_a_head_from_a_newer_nanofolks_is_an_error_and_left_alone(tmp_path):
    store = FileSessionStore(tmp_path)
    store.append("r", msg("a"))
    head = store.path_for("r")
    doc = json.loads(head.read_text(encoding="utf-8"))
    newer = json.dumps({**doc, "format": 99})
    head.write_text(newer, encoding="utf-8")
    with pytest.raises(SessionCorruptError, match="newer"):
        store.read("r")
    with pytest.raises(SessionCorruptError, match="newer"):
        store.append("r", msg("b"))
    assert head.read_text(encoding="utf-8") == newer  # not damage: never moved aside
    assert sorted(p.name for p in head.parent.iterdir()) == [".lock", "head.json"]


def test_a_garbled_head_is_moved_aside_and_the_room_keeps_working(tmp_path, caplog):
    store = FileSessionStore(tmp_path)
    store.append("r", msg("a"))
    head = store.path_for("r")
    head.write_text('{"format": 1, "kind": "nanofolks.session.he', encoding="utf-8")
    assert store.read("r") == []  # its only message was in the damaged head
    moved = [p for p in head.parent.iterdir() if p.name.startswith("head.json.damaged-")]
    assert len(moved) == 1 and moved[0].read_text(encoding="utf-8").startswith('{"format": 1')
    assert any(str(head) in r.getMessage() and moved[0].name in r.getMessage() for r in caplog.records)
    store.append("r", msg("b"))
    assert [m.content for m in store.read("r")] == ["b"]


def test_message_dict_round_trip_and_validation():
    m = SessionMessage("tool", "42", bot="coder", channel="cli", meta={"tool_call_id": "t1"})
    assert SessionMessage.from_dict(json.loads(json.dumps(m.to_dict()))) == m
    assert SessionMessage("user", "x").id != SessionMessage("user", "x").id
    with pytest.raises(ValueError):
        SessionMessage("robot", "x")
    with pytest.raises(ValueError):
        SessionMessage.from_dict({"role": "user"})


def test_non_json_meta_is_rejected_before_writing(tmp_path):
    store = FileSessionStore(tmp_path)
    with pytest.raises(TypeError):
        store.append("r", SessionMessage("user", "x", meta={"obj": object()}))
    assert store.read("r") == [] and not (tmp_path / "r").exists()


def test_concurrent_writers_meeting_a_damaged_head_move_it_aside_once_and_lose_nothing(tmp_path, worker):
    root, go = tmp_path / "store", tmp_path / "go"
    store = FileSessionStore(root)
    before = [msg(f"old {i}") for i in range(600)]
    store.append("general", *before)
    head = store.path_for("general")
    head.write_bytes(head.read_bytes()[:200])  # truncated: its newest messages are gone
    procs = [worker(root, "general", f"w{k}", count=30, go=go, ack=tmp_path / f"ack{k}") for k in range(4)]
    time.sleep(0.3)
    go.touch()
    for proc in procs:
        assert proc.wait(timeout=120) == 0
    ack_ids = {i for k in range(4) for i, _ in acked(tmp_path / f"ack{k}")}
    ids = [m.id for m in FileSessionStore(root).read("general")]
    assert ack_ids <= set(ids) and len(ids) == len(set(ids))
    in_segments = len(ids) - len(ack_ids)
    assert [m.id for m in before[:in_segments]] == ids[:in_segments] and in_segments >= 512
    assert len(list(head.parent.glob("head.json.damaged-*"))) == 1


def test_sweep_keeps_segments_it_cannot_prove_superseded(tmp_path):
    store = FileSessionStore(tmp_path)
    store.append("r", *[msg(f"m{i}") for i in range(600)])
    folder = store.path_for("r").parent
    referenced = {p.name for p in folder.glob("seg-*.json")}
    in_segments = sum(len(json.loads(p.read_bytes())["messages"]) for p in folder.glob("seg-*.json"))
    (folder / "head.json").rename(folder / "head.json.aside")
    assert store.cleanup("r", older_than=0) == 0  # no committed head: every segment may be the only copy
    assert {p.name for p in folder.glob("seg-*.json")} == referenced
    store.append("r", msg("next"))  # rebuilds the head from the segments (as copies)
    assert [m.content for m in store.read("r")] == [f"m{i}" for i in range(in_segments)] + ["next"]
    removed = store.cleanup("r", older_than=0)  # the originals are now provably superseded
    assert removed == len(referenced) and not referenced & {p.name for p in folder.glob("seg-*.json")}
    assert [m.content for m in store.read("r")] == [f"m{i}" for i in range(in_segments)] + ["next"]


def test_the_intact_messages_of_a_truncated_head_are_kept(tmp_path):
    store = FileSessionStore(tmp_path)
    sent = [msg(f"m{i}") for i in range(300)]  # 256+ in a segment, the rest in the head
    store.append("r", *sent[:280])
    store.append("r", *sent[280:])
    head = store.path_for("r")
    data = head.read_bytes()
    head.write_bytes(data[:-250])  # the last few messages cut off
    got = [m.content for m in store.read("r")]
    assert len(got) < 300 and got == [f"m{i}" for i in range(len(got))]  # a prefix: nothing reordered
    in_head = len(json.loads(data)["messages"])
    assert len(got) > 300 - in_head  # more than the segments alone
    store.append("r", msg("after"))
    assert [m.content for m in store.read("r")] == got + ["after"]
