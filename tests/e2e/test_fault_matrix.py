"""The fault matrix (issue 17, point 4): each row is data (the fault, when it is injected, what the citizen must
experience, what the agent must see, what must be stored) and one runner injects it into a live center (the real
``hotline run`` on a PostgreSQL database) with a citizen's call in progress, and reports per row:
calls lost, tickets lost, calls that reached the queue and a human, time to recover, and whether the wallboard
agrees with Asterisk's queue afterwards.

The runner, for every row: a call waits in the general queue; the fault; a call placed while it lasts (it must
reach the queue too); the row's checks while it lasts (what the agent sees, tickets saved meanwhile); the repair;
recovery timed until the row's ``recovered`` holds; a call placed afterwards; the row's checks of what is stored.
The rows share one center, in order, as faults would come one after another.

Processes killed with SIGKILL (media server, desk, listener, a speech worker mid-phrase) are rows like the others:
the killing is the fault, the supervisor's restart the repair, and recovery is timed from the kill to the process
shown restarted on the wallboard's system status and doing its work again. The recordings disk full is a row too:
the recordings directory, as Asterisk writes it, gets a 256 KiB tmpfs of its own mounted over it and filled (the
test box runs as root; nothing of the box's own disk is filled), while a stand-in agent answers the calls
(``tests/support/stand_in.py``). The same disk filling during an answered call is a row of its own: the tmpfs is
mounted with room, the call is answered and recorded, then the rest is filled while the two talk; the listener's
recordings watch must tell the agent (录音中断), mark the call's record incomplete and show the wallboard 已满.
A row that finds a defect not fixed yet is a strict xfail naming it (it fails the suite once the defect is fixed,
so the mark is taken off). The per-row figures are printed (``-s``) and written to
``test-artifacts/fault-matrix.json``; the center's log to ``test-artifacts/fault-matrix-run.log``.

Calls that reached a human: those the queue bridged to an agent (AgentConnect); a call is lost when it neither
waits in the queue nor reached an agent at the end of its row.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import os
import shutil
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import websockets

from agent_desk.calls import listener
from agent_desk.supervision.wallboard import SNAPSHOT_KEY
from agent_desk.telephony.recording import recording_path, recordings_dir
from hotline.ami import AmiClient, AmiError, EventBuffer
from hotline.contracts import asr
from hotline.numberplan import GENERAL_QUEUE
from hotline.paths import PROJECT_ROOT, Paths
from hotline.secrets import SecretStore
from hotline.site import load_site
from launcher import stack
from launcher import asterisk as runner
from launcher.stack import port_answers
from tests.e2e import test_run_stack as run_stack
from tests.support import faults, samples
from tests.support.stand_in import answered, stand_in_agent
from tests.support.live_center import Calls, Desk, add_user, eventually, start_run
from tests.support.postgres_server import PostgresServer

pytestmark = [pytest.mark.asterisk, pytest.mark.timeout(600)]

RECOVER_WITHIN = 45.0   # seconds from the repair to the row's ``recovered`` (a shared two-core box)
DESK_DOWN_BURST = 20   # calls placed at once while the desk is down
REPORT: dict[str, dict] = {}


@dataclass
class Live:
    """The running center and the people using it."""

    proc: object
    site: dict
    home: Path
    postgres: PostgresServer
    admin: Desk
    boss: Desk      # a supervisor: the wallboard, the call records, the tickets
    agent: Desk     # a 话务员 who saves tickets
    redis_admin: redis.Redis
    log: Path
    calls: Calls | None = None
    events: EventBuffer | None = None
    state: dict = field(default_factory=dict)   # what a row's checks hand to its later checks


Step = Callable[[Live], Awaitable[None]]
Check = Callable[[Live], bool] | Callable[[Live], Awaitable[bool]]


@dataclass(frozen=True)
class Fault:
    name: str
    when: str           # when it is injected
    citizen: str        # what the citizen must experience
    agent: str          # what the agent must see
    stored: str         # what must be stored
    inject: Step | None = None
    while_down: Step | None = None
    repair: Step | None = None      # None: the supervisor repairs it (recovery is timed from the fault)
    recovered: Check | None = None
    after: Step | None = None
    call_during: bool = True        # a call can be placed while the fault lasts (not when Asterisk itself is down)
    cuts_calls: bool = False        # the fault ends the calls in progress (unavoidable: Asterisk restarted)
    xfail: str = ""        # a known defect: strict xfail with this reason


# ── what the rows check ──────────────────────────────────────────────────────────
def draft(tag: str, cid: str = "") -> dict:
    return {"title": f"路灯不亮 {tag}", "content": f"嘉积镇某路路灯不亮（{tag}）", "appeal_type": "help",
            "citizen_phone": "13907550001", **({"call_id": cid} if cid else {})}


def tickets_titled(desk: Desk, tag: str) -> list[dict]:
    return [t for t in desk.get(f"/tickets?q={tag}&limit=100")["items"] if tag in t["title"]]


def wallboard_counts_waiting(live: Live) -> bool:
    """The supervisor's wallboard is up, connected to Asterisk, and counts every call waiting in the queue."""
    status, board = live.boss.send("GET", "/wallboard")
    if status != 200 or not board["connected"]:
        live.state["seen"] = f"wallboard {status}, connected {board.get('connected')}"
        return False
    general = next(q for q in board["queues"] if q["queue"] == GENERAL_QUEUE)
    expected = live.state["expect_waiting"]
    others = {q["queue"]: q["waiting"] for q in board["queues"] if q["waiting"] and q["queue"] != GENERAL_QUEUE}
    live.state["seen"] = (f"wallboard: {general['waiting']} waiting in {GENERAL_QUEUE}, {expected} expected, "
                          f"{board['totals']['waiting']} in all, elsewhere {others} "
                          f"(snapshot version {board.get('version')} of {board.get('generated_at')})")
    return general["waiting"] == expected


async def note_waiting(live: Live) -> None:
    assert live.calls is not None
    live.state["expect_waiting"] = len(await live.calls.waiting())


def on_record(desk: Desk, cid: str) -> bool:
    status, body = desk.send("GET", f"/calls/{cid}")
    return status == 200 and bool(body["queued_at"])


# Redis
async def redis_down(live: Live) -> None:
    outage = faults.RedisOutage(live.proc.pid, live.site["redis_url"], live.home / "redis")   # type: ignore[attr-defined]
    live.state["redis"] = outage
    await asyncio.to_thread(outage.stop)


async def redis_while_down(live: Live) -> None:
    status, body = await asyncio.to_thread(live.boss.send, "GET", "/wallboard")
    assert status == 503 and "请稍后重试" in body["message"], (status, body)   # degraded, said in Chinese
    status, body = await asyncio.to_thread(live.agent.send, "POST", "/tickets", draft("FMREDIS"))
    assert status == 201, (status, body)   # tickets live in the database: saved, Redis or not
    live.state["saved"] = ["FMREDIS"]


async def redis_up(live: Live) -> None:
    await asyncio.to_thread(live.state["redis"].start)
    await note_waiting(live)


# PostgreSQL
async def postgres_down(live: Live) -> None:
    await asyncio.to_thread(faults.stop_postgres, live.postgres)


async def postgres_while_down(live: Live) -> None:
    status, body = await asyncio.to_thread(live.agent.send, "POST", "/tickets", draft("FMPGDOWN"))
    assert status == 503, (status, body)
    assert "数据库" in body["message"] and "重试" in body["message"], body   # says what and what to do, in Chinese
    live.state["refused"] = "FMPGDOWN"


async def postgres_up(live: Live) -> None:
    await asyncio.to_thread(faults.start_postgres, live.postgres)


def postgres_retry_saves(live: Live) -> bool:
    """The agent's retry of the refused ticket is saved."""
    status, body = live.agent.send("POST", "/tickets", draft(live.state["refused"]))
    return status == 201


async def postgres_after(live: Live) -> None:
    # Nothing half saved: the refused attempt left no ticket, the retry exactly one.
    assert len(await asyncio.to_thread(tickets_titled, live.boss, "FMPGDOWN")) == 1
    live.state["saved"] = ["FMPGDOWN"]


# AMI connection
async def ami_cut(live: Live) -> None:
    board = await asyncio.to_thread(live.admin.processes)
    pid = board["listener"]["pid"]
    cut = await asyncio.to_thread(faults.cut_tcp, pid, live.site["ami_port"])
    assert cut, "the listener had no AMI connection to cut"
    live.state["ami_cut"] = (pid, cut)


async def ami_reconnected(live: Live) -> bool:
    """The same listener (not a restarted one) on a new AMI connection, and the wallboard counting the calls waiting
    now, as Asterisk lists them."""
    pid, cut = live.state["ami_cut"]
    now = faults.tcp_connections(pid, live.site["ami_port"])
    live.state["seen"] = f"listener's AMI connections (port, inode) {sorted(now)}, cut {sorted(cut)}"
    return bool(now) and not now & cut and await board_counts_queue(live)


# Asterisk
def center_asterisk(live: Live):
    paths = Paths(home=live.home, plan=PROJECT_ROOT / "asterisk_conf" / "numbers.yaml",
                  site=live.home.parent / "site.yaml")
    return stack.asterisk_instance(paths, load_site(paths.site), SecretStore(paths.secrets))


async def asterisk_down(live: Live) -> None:
    live.state["asterisk"] = center_asterisk(live)
    await asyncio.to_thread(live.state["asterisk"].down)


async def asterisk_up(live: Live) -> None:
    await asyncio.to_thread(live.state["asterisk"].up)
    assert live.calls is not None
    calls = live.calls
    deadline = time.monotonic() + RECOVER_WITHIN
    while True:   # the harness's own AMI connection reconnects by itself (panoramisk), like the listener's
        try:
            await calls.waiting()   # answered: the rows' checks can ask Asterisk again
            return
        except (OSError, TimeoutError, AmiError):
            assert time.monotonic() < deadline, "the operator's AMI connection did not come back"
            await asyncio.sleep(0.5)


async def stack_back(live: Live) -> bool:
    """Every supervised process running and the wallboard connected again, counting the calls waiting now."""
    board = await asyncio.to_thread(live.admin.processes)
    return all(p["state"] == "running" for p in board.values()) and await board_counts_queue(live)


# Processes killed (SIGKILL through the supervisor's pids, as the wallboard's system status lists them)
def killer(name: str) -> Step:
    async def inject(live: Live) -> None:
        row = (await asyncio.to_thread(live.admin.processes))[name]
        assert row["state"] == "running", row
        live.state["killed"] = (name, row["pid"], row["restarts"])
        faults.kill_process(row["pid"])
    return inject


def shown_restarted(live: Live) -> bool:
    """The system status shows the restart: one more, SIGKILL the last exit, a new pid, running."""
    name, pid, restarts = live.state["killed"]
    row = live.admin.processes()[name]
    return (row["state"] == "running" and row["restarts"] == restarts + 1 and row["pid"] != pid
            and row["last_exit"] == "SIGKILL")


async def board_counts_queue(live: Live) -> bool:
    """The wallboard (connected) counts the calls waiting in the queue now, as Asterisk lists them."""
    assert live.calls is not None
    live.state["expect_waiting"] = len(await live.calls.waiting())
    return await asyncio.to_thread(wallboard_counts_waiting, live)


def killed_in_log(live: Live) -> bool:
    name, pid, _ = live.state["killed"]
    return f"[hotline] {name} (pid {pid}) ended (SIGKILL); restarting" in live.log.read_text()


# the media server (FastAGI + AudioSocket)
def media_back(live: Live) -> bool:
    return port_answers("127.0.0.1", live.site["agi_port"]) and shown_restarted(live)


async def media_after(live: Live) -> None:
    assert live.state["agi_after"] == "SUCCESS", "the call after the restart did not get its AGI again"
    assert killed_in_log(live)


# the desk
def board_version(live: Live) -> int:
    return json.loads(live.redis_admin.get(SNAPSHOT_KEY) or "{}").get("version", 0)


async def desk_while_down(live: Live) -> None:
    """Calls never wait for the desk: a burst queues while it restarts, the listener keeps the wallboard going."""
    assert live.calls is not None
    calls = live.calls
    version = board_version(live)
    assert not await asyncio.to_thread(live.admin.answers), "the desk was back too soon to show calls go on without it"
    burst = [await calls.place() for _ in range(DESK_DOWN_BURST)]
    assert await asyncio.gather(*(calls.joined(cid) for cid in burst)) == ["SUCCESS"] * DESK_DOWN_BURST
    await eventually(lambda: board_version(live) > version, 5, "the wallboard moving on with the desk down")
    live.state["extra_calls"] = burst


def desk_back(live: Live) -> bool:
    if not live.admin.answers():
        return False
    for user in (live.admin, live.boss, live.agent):   # sessions live in the database: the same password
        user.login()
    return shown_restarted(live)


async def desk_after(live: Live) -> None:
    status, body = await asyncio.to_thread(live.agent.send, "POST", "/tickets", draft("FMDESK"))
    assert status == 201, (status, body)
    live.state["saved"] = ["FMDESK"]
    assert killed_in_log(live)


# the AMI listener
async def listener_back(live: Live) -> bool:
    """Started again, it rebuilds the board from Asterisk (QueueStatus), the waiting calls with it."""
    return await asyncio.to_thread(shown_restarted, live) and await board_counts_queue(live)


async def listener_after(live: Live) -> None:
    assert killed_in_log(live)


# a speech worker, mid-phrase
PHRASE_SAMPLES = 6   # real recordings put end to end: a phrase long enough to be killed in the middle of


async def worker_killed_mid_phrase(live: Live) -> None:
    """A waiting caller's phrase goes to the pool; the worker that took it is killed while it transcribes."""
    import wave

    audio = b""
    names = sorted(samples.references())[:PHRASE_SAMPLES]
    for name in names:
        with wave.open(str(samples.to_8k(name, live.home.parent / "samples-8k")), "rb") as recording:
            audio += recording.readframes(recording.getnframes())
    reply = asr.REPLY_PREFIX + "fault-matrix"
    job = asr.PhraseJob(job_id=f"fm-{os.getpid()}", call_id="fm-phrase", speaker="citizen", seq=0, phase="waiting",
                        priority="waiting", reply_to=reply)
    stream = asr.job_class("waiting").stream
    live.state["phrase"] = (job.job_id, reply, len(audio) / 16000)
    await asyncio.to_thread(live.redis_admin.xadd, stream, {asr.JOB_FIELD: job.encode(), asr.AUDIO_FIELD: audio})

    def taken() -> str:
        pending = live.redis_admin.xpending_range(stream, asr.GROUP, "-", "+", 10)
        return pending[0]["consumer"].decode() if pending else ""

    consumer = await eventually(taken, 30, "a worker taking the phrase")
    board = await asyncio.to_thread(live.admin.processes)
    name = f"asr-{consumer.rsplit('-', 1)[1]}"   # workers are named <host>-<site>-<i>: process asr-<i>
    live.state["killed"] = (name, board[name]["pid"], board[name]["restarts"])
    faults.kill_process(board[name]["pid"])
    # Killed in the middle: the phrase is still pending (not answered and acknowledged before the kill).
    assert await asyncio.to_thread(live.redis_admin.xpending_range, stream, asr.GROUP, "-", "+", 10), \
        "the worker finished the phrase before it was killed"


def phrase_transcribed(live: Live) -> bool:
    """The phrase is transcribed all the same (claimed again once idle), and answered once."""
    job_id, reply, _ = live.state["phrase"]
    results = [asr.PhraseResult.decode(fields[asr.RESULT_FIELD.encode()])
               for _, fields in live.redis_admin.xrange(reply)]
    mine = [r for r in results if r.job_id == job_id]
    if not mine or not shown_restarted(live):
        return False
    assert len(mine) == 1 and mine[0].status == "ok" and mine[0].text, mine
    live.state["phrase_text"] = mine[0].text
    return True


async def worker_after(live: Live) -> None:
    assert killed_in_log(live)
    REPORT["speech worker killed mid-phrase (SIGKILL)"]["phrase"] = {
        "seconds": round(live.state["phrase"][2], 1), "text": live.state["phrase_text"]}


# the recordings disk
TALK_SECONDS = 3


def recordings_host_dir(live: Live) -> Path:
    return center_asterisk(live).host_path(recordings_dir(load_site(live.home.parent / "site.yaml")))


async def disk_full(live: Live) -> None:
    assert faults.FullDisk.mountable(), "the disk-full row mounts a tmpfs over the recordings: it needs root"
    live.state["restarts"] = {n: p["restarts"] for n, p in (await asyncio.to_thread(live.admin.processes)).items()}
    disk = faults.FullDisk(recordings_host_dir(live))
    live.state["disk"] = disk
    await asyncio.to_thread(disk.fill)


async def answered_and_ended(live: Live, cid: str, talk: float = TALK_SECONDS) -> None:
    """The stand-in agent answered ``cid`` and the call ended (the recording, if any, closed)."""
    assert live.events is not None and live.calls is not None
    events = live.events
    connect = await events.wait(lambda e: e.name == "AgentConnect" and e.get("Linkedid") == cid, 30)
    assert connect is not None, f"{cid} did not reach the agent"
    ended = await events.wait(lambda e: e.name in ("AgentComplete", "Hangup") and e.get("Linkedid") == cid,
                              talk + 20)
    assert ended is not None, f"{cid} did not end"


def recording_answer(live: Live, cid: str) -> tuple[int, dict | bytes]:
    """What the supervisor gets playing the call's recording (audio, or the desk's refusal)."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"{live.boss.url}/api/v1/calls/{cid}/recording",
                                     headers={"Authorization": f"Bearer {live.boss.token}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


DISK_AGENT_EXTENSION = "8099"   # operator1's for the disk rows: the stand-in answers as this extension


@contextlib.asynccontextmanager
async def agents_page(live: Live) -> AsyncIterator[Callable[[str, float], Awaitable[dict | None]]]:
    """operator1's desk socket (what the agent's page receives), bound to the stand-in's extension for the row:
    yields ``next_about(call_id, seconds)``, the next pop or warning about that call, None if none came in time."""
    status, body = await asyncio.to_thread(live.admin.send, "PATCH", f"/users/{live.agent.username}",
                                           {"extension": DISK_AGENT_EXTENSION})
    assert status == 200, body
    url = live.agent.url.replace("http", "ws", 1) + "/ws/desk"
    try:
        async with websockets.connect(url, additional_headers={"Authorization": f"Bearer {live.agent.token}"}) \
                as socket:
            assert json.loads(await asyncio.wait_for(socket.recv(), 15))["type"] == "hello"

            async def next_about(call_id: str, seconds: float) -> dict | None:
                deadline = time.monotonic() + seconds
                while (left := deadline - time.monotonic()) > 0:
                    try:
                        message = json.loads(await asyncio.wait_for(socket.recv(), left))
                    except TimeoutError:
                        return None
                    if message.get("type") in ("pop", "warning") and call_id in (
                            message.get("call_id"), (message.get("call") or {}).get("call_id")):
                        return message
                return None

            yield next_about
    finally:
        await asyncio.to_thread(live.admin.send, "PATCH", f"/users/{live.agent.username}", {"extension": None})


async def disk_while_full(live: Live) -> None:
    """The calls are answered all the same; the agent's page is told the recording failed (录音失败) while the call
    is on the line, and playing the recording after, the desk says it is unavailable."""
    assert live.calls is not None and live.events is not None
    placed = [c for c in live.state["row_calls"]]
    async with agents_page(live) as next_about, \
            stand_in_agent(live.calls.ami, DISK_AGENT_EXTENSION, TALK_SECONDS):
        for cid in placed:
            popped = await next_about(cid, 60)
            assert popped is not None and popped["type"] == "pop", (cid, popped)
            # told in the pop itself (the dialplan reports the failure before the agent is bridged)
            assert [w["kind"] for w in popped["warnings"]] == ["recording_failed"], (cid, popped)
            assert "录音失败" in popped["warnings"][0]["message"], popped
            REPORT["recordings disk full"]["agent_warned_in_the_pop"] = True
            await answered_and_ended(live, cid)
    for cid in placed:
        await eventually(lambda cid=cid: on_record(live.boss, cid), RECOVER_WITHIN, f"{cid} on record")
        record = await asyncio.to_thread(live.boss.get, f"/calls/{cid}")
        assert record["recording"] == recording_path(recordings_dir(load_site(live.home.parent / "site.yaml")), cid)
        status, body = await asyncio.to_thread(recording_answer, live, cid)
        assert status == 404 and isinstance(body, dict), (status, body if isinstance(body, dict) else len(body))
        assert body["error"] == "recording_unavailable" and "录音不可用" in body["message"], body
        written = live.state["disk"].directory / Path(record["recording"]).name
        REPORT["recordings disk full"].setdefault("recording_bytes_written", []).append(
            written.stat().st_size if written.exists() else None)
    live.state["answered_while_full"] = placed


async def disk_freed(live: Live) -> None:
    await asyncio.to_thread(live.state["disk"].free)


def center_running(live: Live) -> bool:
    """Every supervised process running (nothing crashed on the full disk) and the wallboard connected."""
    board = live.admin.processes()
    status, wallboard = live.boss.send("GET", "/wallboard")
    return (all(p["state"] == "running" for p in board.values()) and status == 200 and wallboard["connected"]
            and {n: p["restarts"] for n, p in board.items()} == live.state["restarts"])


async def disk_after(live: Live) -> None:
    """With space again, the next answered call is recorded and plays, and its agent is warned of nothing."""
    assert live.calls is not None
    cid = live.state["row_calls"][-1]
    async with agents_page(live) as next_about, \
            stand_in_agent(live.calls.ami, DISK_AGENT_EXTENSION, TALK_SECONDS):
        popped = await next_about(cid, 60)
        assert popped is not None and popped["type"] == "pop", (cid, popped)
        assert await next_about(cid, TALK_SECONDS) is None   # no warning while the call is on the line
        await answered_and_ended(live, cid)
    await eventually(lambda: recording_answer(live, cid)[0] == 200, RECOVER_WITHIN, "the recording after playing")
    # A WAV from its first byte, sound included: the check's 4 bytes before the answer were replaced, not kept in
    # front of it. (Its sizes may still be 0: MixMonitor writes them when it closes the file.)
    _status, body = await asyncio.to_thread(recording_answer, live, cid)
    assert isinstance(body, bytes) and len(body) > 44
    assert (body[:4], body[8:16]) == (b"RIFF", b"WAVEfmt "), body[:48]


# the recordings disk filling during an answered call
FILLS_DURING = "recording interrupted: the disk fills during a call"   # the row's id: recording
OTHER_EXTENSION = "8098"   # a second stand-in, no desk user's
LONG_TALK = 45   # seconds: the recording grows, the disk fills, the watch (15 s stall, 2 s looks) notices, in the call
ROOMY = 16 * 1024 * 1024   # the tmpfs with room: minutes of a call's 16 kB/s


def recordings_board(live: Live) -> dict:
    return live.boss.get("/wallboard/recordings")["volumes"][0]


async def disk_with_room(live: Live) -> None:
    assert faults.FullDisk.mountable(), "the disk rows mount a tmpfs over the recordings: they need root"
    live.state["restarts"] = {n: p["restarts"] for n, p in (await asyncio.to_thread(live.admin.processes)).items()}
    disk = faults.FullDisk(recordings_host_dir(live), size=ROOMY)
    live.state["disk"] = disk
    await asyncio.to_thread(disk.mount)


async def disk_fills_in_call(live: Live) -> None:
    """The call placed before the mount is answered first and recorded whole (its MixMonitor opened its file on the
    disk under the mount; a short call: no mark). The call placed on the mounted disk is answered and recorded (its
    file grows), then the disk fills while the two talk: its agent is warned 录音中断 while the call is on the line,
    the wallboard says 已满, the call's record says interrupted and its recording plays what was recorded before."""
    assert live.calls is not None
    report = REPORT.setdefault(FILLS_DURING, {})
    before, during = live.state["row_calls"]
    file = live.state["disk"].directory / Path(recording_path(recordings_dir(
        load_site(live.home.parent / "site.yaml")), during)).name
    async with stand_in_agent(live.calls.ami, OTHER_EXTENSION, TALK_SECONDS, speaking=True):
        await answered_and_ended(live, before)
    async with agents_page(live) as next_about, \
            stand_in_agent(live.calls.ami, DISK_AGENT_EXTENSION, LONG_TALK, speaking=True):
        popped = await next_about(during, 60)
        assert popped is not None and popped["type"] == "pop", (during, popped)
        sizes = await eventually(lambda: (s := file.stat().st_size if file.exists() else 0) > 32_000 and s,
                                 20, f"{during}'s recording growing")
        await eventually(lambda: recordings_board(live)["state"] == "low", 10, "空间不足 (16 MiB: below the mark)")
        report["recorded_bytes_before_full"] = sizes
        await asyncio.to_thread(live.state["disk"].fill_up)
        filled = time.monotonic()
        warned = await next_about(during, 30)
        assert warned is not None and warned["type"] == "warning", (during, warned)
        assert warned["kind"] == "recording_interrupted" and "录音中断" in warned["message"], warned
        report["agent_warned_s_after_full"] = round(time.monotonic() - filled, 1)
        board = await eventually(lambda: (b := recordings_board(live))["state"] == "full" and b, 10,
                                 "the wallboard's 录音存储空间已满")
        assert board["state_label"] == "录音存储空间已满", board
        await answered_and_ended(live, during, LONG_TALK)
    for cid in (before, during):
        await eventually(lambda cid=cid: on_record(live.boss, cid), RECOVER_WITHIN, f"{cid} on record")
    record = await asyncio.to_thread(live.boss.get, f"/calls/{during}")
    assert record["recording_fault"] == "interrupted", record
    status, body = await asyncio.to_thread(recording_answer, live, during)   # what was recorded before, marked
    assert status == 200 and isinstance(body, bytes) and len(body) > 32_000, (status, body)
    assert (await asyncio.to_thread(live.boss.get, f"/calls/{before}"))["recording_fault"] is None


def center_running_with_room(live: Live) -> bool:
    """As ``center_running``, and the wallboard no longer says the recordings disk is full."""
    return center_running(live) and recordings_board(live)["state"] != "full"


ROWS = [
    Fault("recordings disk full", "calls waiting in the queue, answered by an agent while the disk is full",
          "the call reaches the agent as ever (the recording failing never holds it up)",
          "the agent's page is warned that the call is not recorded (录音失败) while it is on the line; playing the "
          "call's recording after, the desk says in Chinese that it is unavailable (录音不可用), not a broken file",
          "the call records (queued, answered, the recording's name); with space again the next call is recorded "
          "and plays, and its agent is warned of nothing",
          inject=disk_full, while_down=disk_while_full, repair=disk_freed, recovered=center_running,
          after=disk_after),
    Fault(FILLS_DURING, "a call answered and recorded, the disk filling while the two talk",
          "the conversation goes on to its end (the recording stopping never cuts it)",
          "the agent's page is warned 录音中断 while the call is on the line; the wallboard says 录音存储空间已满",
          "the call's record says its recording is interrupted (incomplete) and plays what was recorded before; "
          "with space again the next call is recorded and plays, and its agent is warned of nothing",
          inject=disk_with_room, while_down=disk_fills_in_call, repair=disk_freed,
          recovered=center_running_with_room, after=disk_after),
    Fault("media server killed (SIGKILL)", "a call waiting in the queue",
          "the call stays queued; a call meanwhile takes the AGI fallback to the queue",
          "the system status shows the restart", "every call of the outage on record; the next call has its AGI",
          inject=killer("media"), recovered=media_back, after=media_after),
    Fault("desk killed (SIGKILL)", "a call waiting in the queue",
          f"calls keep queuing, a burst of {DESK_DOWN_BURST} among them; nothing waits for the desk",
          "the desk is back within seconds, same passwords; the wallboard kept moving meanwhile (the listener)",
          "calls of the outage recorded by the listener; a ticket saved after", inject=killer("desk"),
          while_down=desk_while_down, recovered=desk_back, after=desk_after),
    Fault("listener killed (SIGKILL)", "a call waiting in the queue", "no change",
          "the wallboard rebuilt from Asterisk counts the waiting calls", "every call of the outage on record",
          inject=killer("listener"), recovered=listener_back, after=listener_after),
    Fault("speech worker killed mid-phrase (SIGKILL)", "a call waiting in the queue; a waiting caller's phrase "
          "being transcribed", "no change (call audio never depends on a worker)",
          "the phrase is transcribed all the same, once (claimed again from the dead worker's pending entry)", "—",
          inject=worker_killed_mid_phrase, recovered=phrase_transcribed, after=worker_after),
    Fault("Redis stopped and restarted", "a call waiting in the queue",
          "calls keep reaching the queue", "the wallboard answers 503 with a Chinese message, then recovers and "
          "counts the waiting calls", "a ticket saved meanwhile is saved",
          inject=redis_down, while_down=redis_while_down, repair=redis_up, recovered=board_counts_queue),
    Fault("PostgreSQL stopped and restarted", "a call waiting in the queue",
          "calls keep reaching the queue", "a ticket saved meanwhile is refused (503) with a Chinese message "
          "saying to retry", "nothing half saved; the retry after the restart saves it once",
          inject=postgres_down, while_down=postgres_while_down, repair=postgres_up, recovered=postgres_retry_saves,
          after=postgres_after),
    Fault("AMI connection dropped by the network", "a call waiting in the queue",
          "calls keep reaching the queue", "the listener reconnects; the wallboard counts the waiting calls, "
          "the one queued while it was cut among them", "—",
          inject=ami_cut, repair=note_waiting, recovered=ami_reconnected),
    Fault("Asterisk restarted", "calls waiting in the queue",
          "the calls in progress end with Asterisk (unavoidable); new calls after the restart reach the queue",
          "every process keeps running; the wallboard reconnects and counts the calls waiting after",
          "the calls cut on record as queued; the new call on record",
          inject=asterisk_down, repair=asterisk_up, recovered=stack_back, call_during=False, cuts_calls=True),
]


# ── the live center ─────────────────────────────────────────────────────────────
@pytest.fixture(scope="module")
async def live(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("fault-matrix")
    postgres = await asyncio.to_thread(PostgresServer.start, tmp_path / "pg-log")
    # One media process: killing it is the FastAGI outage the row is about (several: test_agi_replicas.py).
    proc, site, home = start_run(tmp_path, postgres.create_database(), media=1)
    stack_json = home / "run" / "stack.json"
    center: Live | None = None
    try:
        await asyncio.to_thread(run_stack.wait_for, stack_json, proc, 180)
        details = json.loads(stack_json.read_text())
        url = details["desk"]["url"]
        admin = Desk(url, Path(details["desk"]["admin_password_file"]).read_text().strip())
        await asyncio.to_thread(admin.login)
        for name, role in (("boss", "supervisor"), ("operator1", "agent")):
            await asyncio.to_thread(add_user, tmp_path, home, name, role, f"{name}-password-12345")
        boss, agent = Desk(url, "boss-password-12345", "boss"), Desk(url, "operator1-password-12345", "operator1")
        for desk in (boss, agent):
            await asyncio.to_thread(desk.login)
        redis_admin = redis.Redis.from_url(details["redis"]["url"],
                                           password=Path(details["redis"]["password_file"]).read_text().strip())
        center = Live(proc, site, home, postgres, admin, boss, agent, redis_admin, tmp_path / "run.log")
        ami = AmiClient(details["ami"]["host"], details["ami"]["port"], details["ami"]["username"],
                        Path(details["ami"]["secret_file"]).read_text().strip())
        events = EventBuffer()
        ami.subscribe(events)
        await ami.connect()
        center.calls, center.events = Calls(ami, events, prefix="fm"), events
        yield center
        ami.close()
    finally:
        if center is not None:
            if "disk" in center.state:   # a row that failed half way leaves no tmpfs over the recordings
                center.state["disk"].free()
            center.redis_admin.close()
            if "redis" in center.state:
                center.state["redis"].cleanup()
        proc.send_signal(signal.SIGINT)
        await asyncio.to_thread(proc.wait, 90)
        instance = Path(site["instance_dir"])
        shutil.rmtree(instance if runner.use_host_asterisk() else runner.default_root() / instance.relative_to("/"),
                      ignore_errors=True)
        await asyncio.to_thread(postgres.stop)
        artifacts = PROJECT_ROOT / "test-artifacts"
        artifacts.mkdir(exist_ok=True)
        shutil.copy(tmp_path / "run.log", artifacts / "fault-matrix-run.log")
        (artifacts / "fault-matrix.json").write_text(json.dumps(REPORT, ensure_ascii=False, indent=2) + "\n")
        print("\n# fault matrix (calls lost / tickets lost / calls that reached the queue / recovery s):")
        for name, row in REPORT.items():
            print(f"#   {name}: {row}")
    assert proc.returncode == 0, (tmp_path / "run.log").read_text()[-5000:]   # it stopped cleanly after it all


def _param(row: Fault):
    marks = [pytest.mark.xfail(strict=True, reason=row.xfail)] if row.xfail else []
    return pytest.param(row, id=row.name.split(" ")[0].lower(), marks=marks)


async def test_every_process_supervised(live: Live) -> None:
    """Before any fault: each process a child of the launcher, running, never restarted, on the system status
    (Redis is a child of the launcher too, but not a supervised process: not on the list)."""
    board = await eventually(lambda: (b := live.admin.processes()) and all(
        b.get(n, {}).get("state") == "running" for n in ("media", "desk", "listener", "asr-0")) and b,
        60, "every process running on the wallboard's system status")
    assert set(board) == {"media", "desk", "listener", "asr-0"}
    assert {p["restarts"] for p in board.values()} == {0}
    assert all(run_stack.program_and_parent(p["pid"]) for p in board.values())


@pytest.mark.parametrize("row", [_param(r) for r in ROWS])
async def test_fault(row: Fault, live: Live) -> None:
    await run_row(row, live)


async def run_row(row: Fault, live: Live) -> None:
    calls = live.calls
    assert calls is not None and live.events is not None and row.inject and row.recovered
    for key in ("saved", "extra_calls"):
        live.state.pop(key, None)
    placed: list[str] = []
    live.state["row_calls"] = placed
    report = REPORT.setdefault(row.name, {})
    corrections = live.log.read_text().count(listener.BOARD_CORRECTED)
    before = await calls.place()
    await calls.joined(before)
    placed.append(before)
    in_progress = await calls.waiting()
    injected = time.monotonic()
    await row.inject(live)
    if row.call_during:
        during = await calls.place()
        report["agi_during"] = await calls.joined(during)   # the citizen's call reaches the queue meanwhile
        placed.append(during)
    if row.while_down:
        await row.while_down(live)
    placed += live.state.get("extra_calls", [])
    repaired = time.monotonic() if row.repair else injected   # the supervisor's repair starts with the fault
    if row.repair:
        await row.repair(live)
    await recovery(row, live)
    report["recovery_s"] = round(time.monotonic() - repaired, 1)
    after = await calls.place()
    live.state["agi_after"] = await calls.joined(after)
    placed.append(after)
    if row.after:
        await row.after(live)
    waiting = await calls.waiting()
    survivors = [after] if row.cuts_calls else placed
    report["calls_lost"] = len([c for c in survivors if c not in waiting and not answered(live.events, c)])
    report["reached_queue"] = len([c for c in placed if c in waiting or c in in_progress
                                   or answered(live.events, c)])
    report["reached_human"] = len([c for c in placed if answered(live.events, c)])
    if row.cuts_calls:
        # The calls waiting when the fault came (the harness's calls end after the originate's 30 s timeout, so
        # those of earlier rows are gone by then): what the citizen hears as the line dropping.
        report["calls_cut"] = len(in_progress - waiting)
    saved = live.state.get("saved", [])
    report["tickets_lost"] = len([t for t in saved if len(await asyncio.to_thread(tickets_titled, live.boss, t)) != 1])
    # What is stored: every call of the row is on the supervisor's call records.
    # What is stored: every call of the row reaches the supervisor's call records (the listener keeps the events
    # the database refused and retries them with back-off, so the calls of an outage arrive once it is over).
    deadline = time.monotonic() + RECOVER_WITHIN
    while missing := [cid for cid in placed if not await asyncio.to_thread(on_record, live.boss, cid)]:
        assert time.monotonic() < deadline, (
            f"calls not on record {RECOVER_WITHIN:.0f} s after the repair: {missing} (placed before, during and "
            f"after the fault: {placed})")
        await asyncio.sleep(0.5)
    report["on_record_s"] = round(time.monotonic() - repaired, 1)
    deadline = time.monotonic() + 15   # calls join and leave meanwhile: the board and the queue agree within
    while not (counted := await board_counts_queue(live)) and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
    report["wallboard_after"] = counted
    # how often the listener's own check found the board wrong and rebuilt it (an event lost or misread): reported
    report["board_corrected"] = live.log.read_text().count(listener.BOARD_CORRECTED) - corrections
    print(f"\n# {row.name}: {report}")
    assert report["calls_lost"] == 0 and report["tickets_lost"] == 0 and report["wallboard_after"], report


async def recovery(row: Fault, live: Live) -> None:
    """Polls the row's ``recovered`` (blocking ones in a thread) until it holds, within ``RECOVER_WITHIN``."""
    import urllib.error

    assert row.recovered is not None
    check = row.recovered
    deadline = time.monotonic() + RECOVER_WITHIN
    last: object = None
    live.state.pop("seen", None)   # what the checks saw last (they note it), for the failure's message
    while time.monotonic() < deadline:
        try:
            done = await check(live) if inspect.iscoroutinefunction(check) else await asyncio.to_thread(check, live)
            if done:
                return
        except (OSError, urllib.error.URLError, KeyError, redis.RedisError, AmiError) as exc:
            last = exc
        await asyncio.sleep(0.3)
    raise AssertionError(f"{row.name}: not recovered within {RECOVER_WITHIN:.0f} s (last error: {last!r}; "
                         f"last seen: {live.state.get('seen')})")
