"""The FastAGI server alone in a process of its own, for ``bench.dialplan_agi_cps``'s separate-process layout.

It serves the same routes with the same services as the benchmark's in-process server (the number plan, no IVR
services), so the two layouts differ only in where the server runs: in the benchmark's event loop beside its AMI
parsing, or alone in its own process (as ``hotline run`` runs ``hotline agi serve``). Prints ``ready`` once it
listens; stops on SIGTERM, printing (JSON) the server-side durations of what it handled, the CPU seconds the
process used meanwhile (user + system: its whole cost per call, whatever the box's load does to latency) and the
seconds it spent runnable but waiting for a CPU (its run delay: what the box's load did to it).

    python -m bench.agi_process --port 4573 [--shared-port] [--queue-first] [--one-by-one] [--wait-last-reply]

``--wait-last-reply``: the route's last commands sent like any other, each reply read before the script ends (as
before the FastAGI server half-closed its socket behind them, ``FastAgiChannel.finish``): the baseline of
``bench.dialplan_agi_cps --held ... --finish both``.

``--queue-first``: the entry route as a center runs it by default (queue-first intake: it chooses the sub-platform
and sets it with the live-transcript flag), with IVR services that have no Redis, speech or media (the choice is
then by the caller's number). ``--one-by-one``: every variable by its own ``SET VARIABLE``, as before the route's
results went with its status in one ``EXEC MSet``: with a dialplan that passes no AGI() arguments, the entry route
of before issue 17's command cut (``bench.dialplan_agi_cps``'s ``before`` rows).

With ``--shared-port`` several of these listen on one port (SO_REUSEPORT), as ``hotline run --media N`` runs its
media processes: ``bench.dialplan_agi_cps``'s ``processes`` layout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from agi_scripts.app import ivr_services
from agi_scripts.channel import AgiChannel, FastAgiChannel
from agi_scripts.routes import Services
from agi_scripts.server import AgiServer, freeze_heap
from hotline.numberplan import load_plan
from hotline.paths import PROJECT_ROOT


def services(queue_first: bool) -> Services:
    plan = load_plan(PROJECT_ROOT / "asterisk_conf" / "numbers.yaml")
    if not queue_first:
        return Services(plan=plan)
    with tempfile.TemporaryDirectory(prefix="bench-agi-") as home:   # spools are created on use only
        return Services(plan=plan, ivr=ivr_services(plan, Path(home), None, speech=None, audiosocket=None))


async def serve(host: str, port: int, shared_port: bool = False, queue_first: bool = False,
                one_by_one: bool = False, wait_last_reply: bool = False) -> None:
    if wait_last_reply:
        FastAgiChannel.finish = AgiChannel.finish   # type: ignore[method-assign]
    if one_by_one:
        async def separately(self: AgiChannel, values: Mapping[str, str]) -> None:
            for name, value in values.items():
                await self.set_variable(name, value)
        AgiChannel.set_variables = separately   # type: ignore[method-assign]
    server = AgiServer(services(queue_first), host=host, port=port, shared_port=shared_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    await server.start()
    freeze_heap()   # as ``hotline agi serve`` does
    print("ready", flush=True)
    cpu, waited = time.process_time(), run_delay()
    await stop.wait()
    await server.stop()
    print(json.dumps({"durations": list(server.durations), "cpu": time.process_time() - cpu,
                      "run_delay": run_delay() - waited}), flush=True)


def run_delay() -> float:
    """Seconds this process's (one) thread has spent runnable but waiting for a CPU (/proc/self/schedstat)."""
    try:
        return int(Path("/proc/self/schedstat").read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--shared-port", action="store_true",
                        help="SO_REUSEPORT: one of several such processes on the port (hotline run --media N)")
    parser.add_argument("--queue-first", action="store_true", help="the entry route with queue-first IVR services")
    parser.add_argument("--one-by-one", action="store_true", help="no EXEC MSet: each variable its own command")
    parser.add_argument("--wait-last-reply", action="store_true",
                        help="the route's last commands answered one by one before the script ends (the baseline)")
    parser.add_argument("--profile", help="write a cProfile of the whole run to this file (pstats)")
    args = parser.parse_args()
    if args.profile:
        import cProfile

        cProfile.run("asyncio.run(serve(args.host, args.port, args.shared_port, args.queue_first, args.one_by_one, "
                     "args.wait_last_reply))", args.profile)
    else:
        asyncio.run(serve(args.host, args.port, args.shared_port, args.queue_first, args.one_by_one,
                          args.wait_last_reply))
