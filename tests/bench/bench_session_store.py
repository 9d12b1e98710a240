"""Benchmark FileSessionStore: concurrent writers, and append latency on long histories.

    python tests/bench/bench_session_store.py                      # both modes, defaults
    python tests/bench/bench_session_store.py --mode concurrent --procs 8 --messages 200
    python tests/bench/bench_session_store.py --mode long --history 20000 --samples 300

Exits 1 if any acknowledged message was lost, duplicated or corrupt (or out of order).
"""

from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from nanofolks_core.sessions import FileSessionStore, SessionCorruptError, SessionMessage  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def fmt_ms(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"p50 {pct(ms, 50):.2f} ms  p95 {pct(ms, 95):.2f} ms  p99 {pct(ms, 99):.2f} ms  max {max(ms):.2f} ms"


def _writer(root: str, room: str, writer: int, count: int, size: int, use_cas: bool, barrier, results) -> None:
    store = FileSessionStore(Path(root), use_cas=use_cas)
    latencies, acked = [], []
    barrier.wait()
    for i in range(count):
        msg = SessionMessage(
            "user", f"w{writer}:{i}:" + "x" * size, bot=f"w{writer}", channel="bench", id=f"w{writer}-{i}"
        )
        t0 = time.perf_counter()
        store.append(room, msg)
        latencies.append(time.perf_counter() - t0)
        acked.append(msg.id)
    results.put((writer, latencies, acked, store.conflicts, time.perf_counter()))


def run_concurrent(args, root: Path) -> bool:
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(args.procs + 1), ctx.Queue()
    procs = [
        ctx.Process(
            target=_writer, args=(str(root), "bench", w, args.messages, args.size, not args.no_cas, barrier, results)
        )
        for w in range(args.procs)
    ]
    for p in procs:
        p.start()
    barrier.wait()
    start = time.perf_counter()
    got = [results.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    wall = max(g[4] for g in got) - start

    latencies = [v for g in got for v in g[1]]
    acked = {i for g in got for i in g[2]}
    conflicts = sum(g[3] for g in got)
    corrupt = 0
    try:
        stored = FileSessionStore(root).read("bench")
    except (SessionCorruptError, OSError) as exc:  # unreadable: everything counts as corrupt
        print(f"READ FAILED: {exc!r}")
        stored, corrupt = [], len(acked)
    counts = Counter(m.id for m in stored)
    duplicated = sum(n - 1 for n in counts.values())
    lost = len(acked - set(counts))
    order_errors = 0
    last: dict[str, int] = {}
    for m in stored:
        try:
            writer, index, pad = m.content.split(":", 2)
            ok = m.id == f"{writer}-{index}" and m.bot == writer and pad == "x" * args.size
        except ValueError:
            ok = False
        if not ok:
            corrupt += 1
            continue
        if int(index) <= last.get(writer, -1):
            order_errors += 1
        last[writer] = int(index)
    total = args.procs * args.messages
    print(
        f"concurrent: {args.procs} processes x {args.messages} appends "
        f"({'CAS' if not args.no_cas else 'use_cas=False'}, {args.size}-char messages)"
    )
    print(f"  wall {wall:.2f} s   throughput {total / wall:.0f} messages/s")
    print(
        f"  stored {len(stored)}  lost {lost}  duplicated {duplicated}  corrupt {corrupt}  "
        f"out-of-order {order_errors}  CAS retries {conflicts}"
    )
    print(f"  append latency: {fmt_ms(latencies)}")
    return lost == 0 and duplicated == 0 and corrupt == 0 and order_errors == 0


def run_long(args, root: Path) -> bool:
    store = FileSessionStore(root)
    sizes = sorted({0, 1_000, 5_000, args.history})
    print(f"long history: {args.samples} single-message appends at each history length ({args.size}-char messages)")
    ok = True
    for n in sizes:
        room = f"long-{n}"
        for start in range(0, n, 500):
            batch = [
                SessionMessage("assistant", f"p{i}:" + "y" * args.size, bot="leader")
                for i in range(start, min(n, start + 500))
            ]
            store.append(room, *batch)
        gc.collect()  # measure the store, not a garbage collector full of earlier rounds
        latencies = []
        for i in range(args.samples):
            t0 = time.perf_counter()
            store.append(room, SessionMessage("user", f"s{i}:" + "z" * args.size))
            latencies.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        tail = store.read(room, limit=50)
        read_tail = time.perf_counter() - t0
        t0 = time.perf_counter()
        everything = store.read(room)
        read_all = time.perf_counter() - t0
        ok &= len(everything) == n + args.samples and tail == everything[-50:]
        print(
            f"  history {n:>6}: append {fmt_ms(latencies)}   "
            f"read(limit=50) {read_tail * 1000:.2f} ms   read(all {len(everything)}) "
            f"{read_all * 1000:.1f} ms"
        )
        del tail, everything
    return ok


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--mode", choices=["concurrent", "long", "both"], default="both")
    ap.add_argument("--procs", type=int, default=8)
    ap.add_argument("--messages", type=int, default=200, help="appends per process")
    ap.add_argument("--size", type=int, default=200, help="characters of padding per message")
    ap.add_argument("--no-cas", action="store_true", help="use_cas=False (expect losses)")
    ap.add_argument("--history", type=int, default=20_000, help="longest history for --mode long")
    ap.add_argument("--samples", type=int, default=200, help="appends measured per history length")
    ap.add_argument("--root", type=Path, help="store folder (default: a fresh temp folder)")
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="nanofolks-bench-", dir=args.root) as tmp:
        ok = True
        if args.mode in ("concurrent", "both"):
            ok &= run_concurrent(args, Path(tmp) / "concurrent")
        if args.mode in ("long", "both"):
            ok &= run_long(args, Path(tmp) / "long")
    print("OK" if ok else "FAILED: messages lost, duplicated, corrupt or out of order")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
