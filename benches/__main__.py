"""`python -m benches [--quick] [--scale S] [--only 1,3]`: see docs/performance.md.

BENCH_SCALE (or --scale) multiplies every size: 1 is the issue's full run (2,000 disclosures
at full speed, 50/s for 20 s, 10,000 SLA clocks, a 1,000-event timeline, a 1,000,000-event
rebuild); --quick is 0.01, a smoke run that the test suite executes (under two minutes: it
starts several stacks).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from caseplatform import topology
from caseplatform.devstack.stack import DevStack

from . import ceilings, load, machine, sla, timeline
from .memory import cpu_seconds, peak_rss_mib
from .report import Report, percentile
from .stack import AsyncClient, has_rpc, new_stack

OUT = Path("var/bench")


def sizes(scale: float) -> dict[str, int | float]:
    return {
        "saturate": max(20, int(2000 * scale)),
        "paced_rate": 50.0,
        "light_rate": 10.0,
        "paced_seconds": max(1.0, 20 * scale),
        "timeline_events": max(20, int(1000 * scale)),
        "timeline_reads": max(20, int(200 * scale)),
        "rebuild_events": max(2000, int(1_000_000 * scale)),
        "replay_events": max(1000, int(100_000 * scale)),
        "sla_clocks": max(20, int(10_000 * scale)),
        "sla_minute_s": min(60.0, max(6.0, 600 * scale)),  # the minute; shorter for a smoke run
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benches", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny scale (0.01): a smoke run")
    parser.add_argument("--scale", type=float, default=float(os.environ.get("BENCH_SCALE", "1")))
    parser.add_argument("--only", default="1,2,3,4,5", help="sections to run, e.g. 1,3")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--profile", action="store_true", help="pyinstrument profiles of the rebuild and the inboxes")
    args = parser.parse_args(argv)
    scale = 0.01 if args.quick else args.scale
    report = Report(scale)
    report.details["sizes"] = sizes(scale)
    only = {s.strip() for s in args.only.split(",")}
    work = Path(tempfile.mkdtemp(prefix="bench-", dir=_ensure(args.out)))
    # `timeout`, CI or a user's kill sends SIGTERM: unwind like Ctrl-C, so the stacks the bench
    # started are stopped and its work folder removed (by default Python would just exit).
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    loop = f"{machine.ITERATIONS:,} additions in a Python loop, best of 5"
    speed_at_start = machine.reference_loop_ms()
    report.add("0 machine", "reference loop at start", speed_at_start, "ms", note=loop)
    try:
        asyncio.run(run(report, sizes(scale), only, work, args.out if args.profile else None))
    except KeyboardInterrupt:
        print("interrupted: the bench's stacks are stopped; no figures written", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(work, ignore_errors=True)
    speed_at_end = machine.reference_loop_ms()
    report.add("0 machine", "reference loop at end", speed_at_end, "ms",
               note="compare runs of other days by this figure; end / start shows the machine slowing")
    report.add("0 machine", "ratio end / start", speed_at_end / speed_at_start, "x")
    print(report.table())
    print(f"written to {report.write(args.out)}")
    return 0


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


async def run(report: Report, size: dict, only: set[str], work: Path, profile_dir: Path | None) -> None:
    copies = work / "copies"
    if only & {"1", "3", "4", "5"}:
        stack = new_stack(work / "stack")
        await asyncio.to_thread(stack.start)
        try:
            client = AsyncClient(stack)
            try:
                if "1" in only or "5" in only:
                    await end_to_end(report, stack, client, size, work, profile_dir)
                elif "4" in only:
                    await base_load(report, client, size)
                if "3" in only:
                    await timelines(report, stack, client, size)
                for service in topology.SERVICES:
                    ceilings.copy_store(stack.data_dir, copies, service)
            finally:
                await client.close()
        finally:
            await asyncio.to_thread(stack.stop)
        if "4" in only or "5" in only:
            await projection_rebuild(report, copies, work / "rebuilt", size, profile_dir)
    if "2" in only:
        await breach_lag(report, work / "sla", size)


async def base_load(report: Report, client: AsyncClient, size: dict) -> None:
    """What section 4 replicates when section 1 is not run: the same mix of disclosures, pushed
    through the stack until every case is complete, with no figures of its own."""
    driver = load.Driver(client)
    await driver.calibrate()
    report.details["base_load_for_rebuild"] = await load.saturate(driver, int(size["saturate"]))


async def end_to_end(
    report: Report, stack: DevStack, client: AsyncClient, size: dict, work: Path, profile_dir: Path | None = None
) -> None:
    driver = load.Driver(client)
    report.details["calibrated_timelines"] = await driver.calibrate()
    pids = {service: stack.pid(service) for service in stack.services}
    pids["broker"] = stack.broker.pid
    sat = await load.saturate(driver, int(size["saturate"]), cpu=lambda: cpu_seconds(pids))
    report.details["saturate"] = sat
    # Where the CPU goes under saturation (until the last case is complete): the process with
    # the most CPU per disclosure is the first to run out of a core.
    for name, used in sat["cpu_seconds"].items():
        report.add("1 cpu", f"CPU per disclosure, {name}", used * 1000 / max(sat["disclosures"], 1), "ms")
    report.add("1 e2e", "disclosures/s sustained", sat["per_second"], "/s", at_least=500,
               note=f"{sat['disclosures']} disclosures, {sat['incomplete']} incomplete")
    report.add("1 e2e", "incomplete after run", sat["incomplete"], "cases", at_most=0)
    report.details["dash_retries_saturated"] = driver.dash_retries  # NOT_FOUND after risk's wait (ADR 0026)
    pace = await load.paced(driver, float(size["paced_rate"]), float(size["paced_seconds"]))
    latencies = pace.pop("latencies_ms")
    report.details["paced"] = {**pace, "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99)}
    report.add("1 e2e", f"p50 latency at {size['paced_rate']:g}/s", percentile(latencies, 50), "ms")
    report.add("1 e2e", f"p99 latency at {size['paced_rate']:g}/s", percentile(latencies, 99), "ms", at_most=150,
               note=f"{pace['disclosures']} disclosures over {size['paced_seconds']:g} s")
    report.add("1 e2e", "lost at 50/s", pace["lost"], "cases", at_most=0)
    # The same at a fifth of the rate: the path's own latency, without queueing for the CPU.
    light = await load.paced(driver, float(size["light_rate"]), float(size["paced_seconds"]))
    light_latencies = light.pop("latencies_ms")
    report.details["paced_light"] = {**light, "p50_ms": percentile(light_latencies, 50), "p99_ms": percentile(light_latencies, 99)}
    report.add("1 e2e", f"p50 latency at {size['light_rate']:g}/s", percentile(light_latencies, 50), "ms")
    report.add("1 e2e", f"p99 latency at {size['light_rate']:g}/s", percentile(light_latencies, 99), "ms")
    report.details["watch_retries"] = driver.watch_retries  # NOT_FOUND after reporting's wait (ADR 0026)
    for service in stack.services:
        pid = stack.pid(service)
        report.add("5 memory", f"peak RSS {service} after (1)", peak_rss_mib(pid) if pid else None, "MiB")
    # Ceilings, in the same run, on the same broker.
    captured = await ceilings.capture(stack.broker.bootstrap)
    messages = sum(len(v) for v in captured.values())
    total_disclosures = sat["disclosures"] + pace["disclosures"] + light["disclosures"] + 4
    per_disclosure = messages / total_disclosures
    avg_size = int(sum(len(r.value) for v in captured.values() for r in v) / max(messages, 1))
    e2e_messages = sat["per_second"] * per_disclosure
    report.details["messages"] = {"total": messages, "per_disclosure": per_disclosure, "avg_bytes": avg_size}
    raw = await ceilings.raw_broker(stack.broker.bootstrap, max(messages, 1000), avg_size)
    report.details["raw_broker"] = raw
    report.add("1 ceilings", "e2e messages/s (published)", e2e_messages, "/s",
               note=f"{per_disclosure:.1f} messages per disclosure")
    report.add("1 ceilings", "raw broker produce+consume", raw["round_trip_per_second"], "msg/s")
    report.add("1 ceilings", "ratio e2e / raw broker", e2e_messages / raw["round_trip_per_second"], "x")
    snapshot = work / "ceiling-stores"
    for service in topology.SERVICES:
        ceilings.copy_store(stack.data_dir, snapshot, service)
    relay = await ceilings.relay_ceiling(stack.broker.bootstrap, snapshot, tuple(s for s in topology.SERVICES if s != "reporting"))
    report.details["relay_ceiling"] = relay
    report.add("1 ceilings", "relay alone", relay["per_second"], "notif/s")
    report.add("1 ceilings", "ratio e2e / relay", e2e_messages / relay["per_second"] if relay["per_second"] else None, "x")
    consumers = tuple(s for s in topology.SERVICES if s != "intake")
    profile = profile_dir / "profile-inbox.txt" if profile_dir is not None else None
    inbox = await asyncio.to_thread(ceilings.inbox_ceiling, captured, work / "inbox-stores", consumers, profile)
    report.details["inbox_ceiling"] = inbox
    report.add("1 ceilings", "inbox alone (slowest consumer)", inbox["per_second_slowest"], "msg/s")
    slowest = inbox["per_second_slowest"]
    report.add("1 ceilings", "ratio e2e / inbox", e2e_messages / slowest if slowest else None, "x")


async def timelines(report: Report, stack: DevStack, client: AsyncClient, size: dict) -> None:
    case_id = await timeline.build_case(client, int(size["timeline_events"]))
    figures = await timeline.measure(client, stack.data_dir / "reporting" / "events.sqlite", case_id, int(size["timeline_reads"]))
    report.details["timeline"] = figures
    report.add("3 timeline", f"GetCaseTimeline p99 ({figures['entries']} entries)", figures["api_p99_ms"], "ms", at_most=50)
    report.add("3 timeline", "raw store read p99", figures["raw_p99_ms"], "ms")
    report.add("3 timeline", "ratio raw / API (p99)", figures["raw_p99_ms"] / figures["api_p99_ms"], "x")


async def projection_rebuild(report: Report, stores: Path, target: Path, size: dict, profile_dir: Path | None) -> None:
    argv = [sys.executable, "-m", "benches.rebuild", "--stores", str(stores), "--target", str(target),
            "--events", str(size["rebuild_events"]), "--replay-events", str(size["replay_events"])]
    if profile_dir is not None:
        argv += ["--profile", str(profile_dir / "profile-rebuild.txt")]
    proc = await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        report.skip("4 rebuild", f"rebuild failed: {proc.stderr.strip().splitlines()[-1:]}")
        return
    figures = json.loads(proc.stdout)
    report.details["rebuild"] = figures
    rebuilt, replay = figures["rebuild"], figures["replay"]
    report.add("4 rebuild", f"RebuildTimelines ({rebuilt['raw_read']:,} events on the topics)", rebuilt["per_second"],
               "events/s", at_least=50_000, note=f"{rebuilt['rows_in_table']:,} timeline rows")
    report.add("4 rebuild", "raw read of the same topics (aiokafka)", rebuilt["raw_read_per_second"], "events/s")
    report.add("4 rebuild", "ratio rebuild / raw read", rebuilt["per_second"] / rebuilt["raw_read_per_second"], "x", at_least=0.5)
    report.add("4 rebuild", "entries then stored by the background pass, without its rests", rebuilt["fill_per_second"],
               "entries/s", note=f"{rebuilt['entries_filled']:,} in {rebuilt['fill_seconds']:.1f} s (ADR 0042)")
    if replay:
        report.add("4 rebuild", f"live-path replay ({replay['events']:,} events, inbox)", replay["per_second"], "events/s")
        report.add("4 rebuild", "raw sequential store read", replay["raw_read_per_second"], "events/s")
        report.add("4 rebuild", "ratio replay / raw store read", replay["per_second"] / replay["raw_read_per_second"], "x")
    report.add("5 memory", "peak RSS reporting rebuild (4)", figures["peak_rss_mib"], "MiB")
    report.add("5 memory", "peak RSS rebuild workers (4)", rebuilt["peak_rss_children_mib"], "MiB")


async def breach_lag(report: Report, work: Path, size: dict) -> None:
    if not has_rpc(sla.RPC):
        report.skip("2 breach lag", f"{sla.RPC} is not on this branch (the SLA engine, issue #7)")
        return
    figures = await sla.run(work, int(size["sla_clocks"]), float(size["sla_minute_s"]))
    report.details["breach_lag"] = figures
    clocks, settled = figures["clocks"], figures["settled_before_first_due_s"]
    applied = (f"load applied {settled:.0f}s before the first due instant" if settled > 0
               else f"the stack was still applying the load {-settled:.0f}s after the first due instant: lag includes that")
    within = "one minute" if figures["minute_s"] == 60 else f"{figures['minute_s']:g} s"
    report.add("2 breach lag", f"SlaBreached seen, {clocks:,} due within {within}", figures["minute_seen"], "clocks",
               at_least=clocks)
    report.add("2 breach lag", f"p99 due -> SlaBreached, within {within}", figures["minute_p99_s"], "s", at_most=1,
               note=applied)
    report.add("2 breach lag", f"SlaBreached seen, {clocks:,} due at one instant", figures["instant_seen"], "clocks",
               at_least=clocks)
    report.add("2 breach lag", "p99 due -> SlaBreached, one instant", figures["instant_p99_s"], "s", at_most=1,
               note="harsher than the issue's minute: every clock at one midnight")

if __name__ == "__main__":
    raise SystemExit(main())
