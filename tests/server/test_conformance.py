"""gearmand's conformance cases (protocol.md §8, 1-22) re-created at the byte level.

Each test runs against a server started in-process, on asyncio and on trio.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

import anyio
import pytest

from server import SqliteStore, StoreError

from .wire import (
    ALL_YOURS,
    CAN_DO,
    CAN_DO_TIMEOUT,
    ECHO_REQ,
    ECHO_RES,
    ERROR,
    GET_STATUS,
    GET_STATUS_UNIQUE,
    GRAB_JOB,
    GRAB_JOB_ALL,
    GRAB_JOB_UNIQ,
    JOB_ASSIGN,
    JOB_ASSIGN_ALL,
    JOB_ASSIGN_UNIQ,
    JOB_CREATED,
    NO_JOB,
    NOOP,
    OPTION_REQ,
    OPTION_RES,
    PRE_SLEEP,
    SET_CLIENT_ID,
    STATUS_RES,
    STATUS_RES_UNIQUE,
    SUBMIT_JOB,
    SUBMIT_JOB_BG,
    SUBMIT_JOB_EPOCH,
    SUBMIT_JOB_HIGH_BG,
    SUBMIT_JOB_LOW_BG,
    SUBMIT_JOB_SCHED,
    SUBMIT_REDUCE_JOB,
    UNUSED,
    WORK_COMPLETE,
    WORK_DATA,
    WORK_EXCEPTION,
    WORK_FAIL,
    WORK_STATUS,
    WORK_WARNING,
    Raw,
    h,
    req,
    res,
    running,
    wait_until,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]


async def _run_one(worker: Raw, func: bytes, result: bytes = b"") -> bytes:
    """Grab one job as a GRAB_JOB worker, complete it with ``result``; return its data."""
    await worker.send(req(GRAB_JOB))
    packet = await worker.packet()
    assert packet[4:8] == b"\0\0\0\x0b", packet
    handle, name, data = packet[12:].split(b"\0", 2)
    assert name == func
    await worker.send(req(WORK_COMPLETE, handle, result))
    return data


# 1 ------------------------------------------------------------------ echo
async def test_echo_2k_and_overrun() -> None:
    async with running() as s:
        c = await s.raw()
        blob = bytes(range(256)) * 8
        await c.send(req(ECHO_REQ, blob))
        await c.expect(res(ECHO_RES, blob))
        await c.send(*(req(ECHO_REQ, b"%d" % i) for i in range(1000)))
        for i in range(1000):
            await c.expect(res(ECHO_RES, b"%d" % i))


# 2 ------------------------------------------------------------------ coalescence
@pytest.mark.parametrize(
    ("unique1", "data1", "unique2", "data2", "coalesce"),
    [
        (b"u1", b"a", b"u1", b"b", True),  # basic coalescence
        (b"2285535048", b"x", b"2285535048", b"x", True),  # by hash (libgearman's '#')
        (b"-", b"same", b"-", b"same", True),  # by data
        (b"-", b"one", b"-", b"two", False),  # by data fail
        (b"", b"a", b"", b"a", False),  # empty never coalesces
    ],
)
async def test_coalescence(
    unique1: bytes, data1: bytes, unique2: bytes, data2: bytes, coalesce: bool
) -> None:
    async with running() as s:
        c1, c2, w = await s.raw(), await s.raw(), await s.raw()
        await c1.send(req(SUBMIT_JOB, b"f", unique1, data1))
        await c1.expect(res(JOB_CREATED, h(1)))
        await c2.send(req(SUBMIT_JOB, b"f", unique2, data2))
        await c2.expect(res(JOB_CREATED, h(1) if coalesce else h(2)))
        await w.send(req(CAN_DO, b"f"), req(GRAB_JOB_UNIQ))
        await w.expect(res(JOB_ASSIGN_UNIQ, h(1), b"f", unique1, data1))
        await w.send(req(WORK_COMPLETE, h(1), b"r"))
        if coalesce:
            await c1.expect(res(WORK_COMPLETE, h(1), b"r"))
            await c2.expect(res(WORK_COMPLETE, h(1), b"r"))
            await w.send(req(GRAB_JOB))
            await w.expect(res(NO_JOB))
        else:
            await c1.expect(res(WORK_COMPLETE, h(1), b"r"))
            await w.send(req(GRAB_JOB))
            await w.expect(res(JOB_ASSIGN, h(2), b"f", data2))


# 3 ------------------------------------------------------------------ unique status
async def test_unique_status() -> None:
    async with running() as s:
        c, w = await s.raw(), await s.raw()
        await c.send(req(GET_STATUS_UNIQUE, b"nope"))
        await c.expect(res(STATUS_RES_UNIQUE, b"nope", b"0", b"0", b"0", b"0", b"0"))
        await c.send(req(SUBMIT_JOB, b"f", b"my-unique", b"d"))
        await c.expect(res(JOB_CREATED, h(1)))
        await c.send(req(GET_STATUS_UNIQUE, b"my-unique"))
        await c.expect(res(STATUS_RES_UNIQUE, b"my-unique", b"1", b"0", b"0", b"0", b"1"))
        await w.send(req(CAN_DO, b"f"), req(GRAB_JOB_ALL))
        await w.expect(res(JOB_ASSIGN_UNIQ, h(1), b"f", b"my-unique", b"d"))
        await w.send(req(WORK_STATUS, h(1), b"3", b"7"))
        await c.expect(res(WORK_STATUS, h(1), b"3", b"7"))
        await c.send(req(GET_STATUS_UNIQUE, b"my-unique"))
        await c.expect(res(STATUS_RES_UNIQUE, b"my-unique", b"1", b"1", b"3", b"7", b"1"))


# 4 ------------------------------------------------------------------ priorities
async def test_priority_background() -> None:
    async with running() as s:
        c, w = await s.raw(), await s.raw()
        for ptype, data in ((SUBMIT_JOB_LOW_BG, b"low"), (SUBMIT_JOB_BG, b"normal")):
            await c.send(req(ptype, b"f", b"", data))
        await c.send(req(SUBMIT_JOB_HIGH_BG, b"f", b"", b"high"))
        await c.expect(*(res(JOB_CREATED, h(i)) for i in (1, 2, 3)))
        await w.send(req(CAN_DO, b"f"))
        assert [await _run_one(w, b"f") for _ in range(3)] == [b"high", b"normal", b"low"]


async def test_priority_global_across_functions() -> None:
    async with running() as s:
        c, w = await s.raw(), await s.raw()
        await c.send(req(SUBMIT_JOB_LOW_BG, b"a", b"", b"a-low"))
        await c.send(req(SUBMIT_JOB_BG, b"b", b"", b"b-normal"))
        await c.send(req(SUBMIT_JOB_HIGH_BG, b"c", b"", b"c-high"))
        await c.expect(*(res(JOB_CREATED, h(i)) for i in (1, 2, 3)))
        await w.send(req(CAN_DO, b"a"), req(CAN_DO, b"b"), req(CAN_DO, b"c"))
        got = []
        for _ in range(3):
            await w.send(req(GRAB_JOB))
            handle, _, data = (await w.packet())[12:].split(b"\0", 2)
            got.append(data)
            await w.send(req(WORK_COMPLETE, handle, b""))
        assert got == [b"c-high", b"b-normal", b"a-low"]


# 5 ------------------------------------------------------------------ FIFO
async def test_job_order_fifo() -> None:
    async with running() as s:
        c, bg, w = await s.raw(), await s.raw(), await s.raw()
        for i in range(5):
            await c.send(req(SUBMIT_JOB, b"f", b"", b"fg%d" % i))
            await c.expect(res(JOB_CREATED, h(i + 1)))
        for i in range(5):
            await bg.send(req(SUBMIT_JOB_BG, b"g", b"", b"bg%d" % i))
            await bg.expect(res(JOB_CREATED, h(i + 6)))
        await w.send(req(CAN_DO, b"f"))
        assert [await _run_one(w, b"f") for _ in range(5)] == [b"fg%d" % i for i in range(5)]
        await w.send(req(CAN_DO, b"g"))
        assert [await _run_one(w, b"g") for _ in range(5)] == [b"bg%d" % i for i in range(5)]


# 6 ------------------------------------------------------------------ round robin
async def test_round_robin_1032547698() -> None:
    async with running() as s:
        c, w = await s.raw(), await s.raw()
        for i in range(10):
            func = b"queue2" if i % 2 == 0 else b"queue1"
            await c.send(req(SUBMIT_JOB_BG, func, b"", b"%d" % i))
            await c.expect(res(JOB_CREATED, h(i + 1)))
        await w.send(req(CAN_DO, b"queue1"), req(CAN_DO, b"queue2"))
        order = b""
        for _ in range(10):
            await w.send(req(GRAB_JOB))
            handle, _, data = (await w.packet())[12:].split(b"\0", 2)
            order += data
            await w.send(req(WORK_COMPLETE, handle, b""))
        assert order == b"1032547698"


async def test_epoch_does_not_block_regular_job() -> None:
    async with running() as s:
        c, w = await s.raw(), await s.raw()
        later = b"%d" % (time.time() + 3600)
        await c.send(req(SUBMIT_JOB_EPOCH, b"f", b"e", later, b"future"))
        await c.send(req(SUBMIT_JOB_BG, b"f", b"", b"now"))
        await c.expect(res(JOB_CREATED, h(1)), res(JOB_CREATED, h(2)))
        await w.send(req(CAN_DO, b"f"))
        assert await _run_one(w, b"f") == b"now"
        await w.send(req(GRAB_JOB))
        await w.expect(res(NO_JOB))


# 7 ------------------------------------------------------------------ job retries
@pytest.mark.parametrize(("retries", "calls"), [(0, 1), (1, 1), (2, 2), (3, 3)])
async def test_job_retries(retries: int, calls: int) -> None:
    async with running(job_retries=retries) as s:
        c = await s.raw()
        await c.send(req(SUBMIT_JOB, b"f", b"", b"d"))
        await c.expect(res(JOB_CREATED, h(1)))
        for _ in range(calls):
            w = await s.raw()
            await w.send(req(CAN_DO, b"f"), req(GRAB_JOB))
            await w.expect(res(JOB_ASSIGN, h(1), b"f", b"d"))
            await w.aclose()  # the worker dies (libgearman's GEARMAN_ERROR path)
        await c.expect(res(WORK_FAIL, h(1)))
        await c.send(req(GET_STATUS, h(1)))
        await c.expect(res(STATUS_RES, h(1), b"0", b"0", b"0", b"0"))


async def test_job_retries_limit_succeeds_on_last_attempt() -> None:
    async with running(job_retries=3) as s:
        c = await s.raw()
        await c.send(req(SUBMIT_JOB, b"f", b"", b"d"))
        await c.expect(res(JOB_CREATED, h(1)))
        for _ in range(2):
            w = await s.raw()
            await w.send(req(CAN_DO, b"f"), req(GRAB_JOB))
            await w.expect(res(JOB_ASSIGN, h(1), b"f", b"d"))
            await w.aclose()
        w = await s.raw()
        await w.send(req(CAN_DO, b"f"))
        assert await _run_one(w, b"f", b"ok") == b"d"
        await c.expect(res(WORK_COMPLETE, h(1), b"ok"))


# 8 ------------------------------------------------------------------ ownership
async def test_abandoned_worker_gets_job_not_found() -> None:
    async with running() as s:
        c, a, b = await s.raw(), await s.raw(), await s.raw()
        await c.send(req(SUBMIT_JOB, b"f", b"", b"d"))
        await c.expect(res(JOB_CREATED, h(1)))
        await a.send(req(CAN_DO, b"f"), req(GRAB_JOB))
        await a.expect(res(JOB_ASSIGN, h(1), b"f", b"d"))
        await b.send(req(WORK_COMPLETE, h(1), b"x"))
        await b.expect(res(ERROR, b"JOB_NOT_FOUND", b"Job given in work result not found"))
        await b.send(req(WORK_DATA, h(1), b"x"))
        await b.expect(res(ERROR, b"JOB_NOT_FOUND", b"Job does not exist on server"))
        await b.send(req(WORK_EXCEPTION, h(1), b"x"))
        await b.expect(
            res(
                ERROR,
                b"JOB_NOT_FOUND",
                b"An exception was received for a job that does not exist",
            )
        )
        await c.send(req(WORK_FAIL, h(1)))  # libgearman's cancel_job
        await c.expect(res(ERROR, b"JOB_NOT_FOUND", b"Job given in work result not found"))
        await a.send(req(WORK_COMPLETE, h(1), b"ok"))
        await c.expect(res(WORK_COMPLETE, h(1), b"ok"))


# 9 ------------------------------------------------------------------ CAN_DO_TIMEOUT
@pytest.mark.slow
async def test_can_do_timeout_requeues_and_server_stays_responsive() -> None:
    async with running() as s:
        c, w, w2 = await s.raw(), await s.raw(), await s.raw()
        await c.send(req(SUBMIT_JOB, b"f", b"", b"d"))
        await c.expect(res(JOB_CREATED, h(1)))
        await w.send(req(CAN_DO_TIMEOUT, b"f", b"1"), req(GRAB_JOB))
        await w.expect(res(JOB_ASSIGN, h(1), b"f", b"d"))
        await w2.send(req(CAN_DO, b"f"), req(PRE_SLEEP))
        await w2.expect(res(NOOP))  # woken when the timed-out job is requeued (~1 s)
        assert await _run_one(w2, b"f", b"second") == b"d"
        await c.expect(res(WORK_COMPLETE, h(1), b"second"))
        await w.send(req(WORK_COMPLETE, h(1), b"late"))
        await w.expect(res(ERROR, b"JOB_NOT_FOUND", b"Job given in work result not found"))
        await c.barrier()


async def test_can_do_timeout_cancelled_when_job_ends() -> None:
    async with running() as s:
        c, w = await s.raw(), await s.raw()
        await w.send(req(CAN_DO_TIMEOUT, b"f", b"1000"))
        await c.send(req(SUBMIT_JOB, b"f", b"", b"d"))
        await c.expect(res(JOB_CREATED, h(1)))
        assert await _run_one(w, b"f", b"r") == b"d"
        await c.expect(res(WORK_COMPLETE, h(1), b"r"))
        assert s.server.scheduler.next_deadline() is None


# 10 ----------------------------------------------------------------- lp:518512
async def test_abandoned_foreground_job_is_never_run() -> None:
    async with running() as s:
        gone = await s.raw()
        await gone.send(req(SUBMIT_JOB, b"f", b"", b"abandoned"))
        await gone.expect(res(JOB_CREATED, h(1)))
        await gone.aclose()
        c, w = await s.raw(), await s.raw()
        await wait_until(lambda: not s.server.scheduler.job_count)
        await c.send(req(SUBMIT_JOB, b"f", b"", b"wanted"))
        await c.expect(res(JOB_CREATED, h(2)))
        await w.send(req(CAN_DO, b"f"))
        assert await _run_one(w, b"f", b"ok") == b"wanted"
        await c.expect(res(WORK_COMPLETE, h(2), b"ok"))
        await w.send(req(GRAB_JOB))
        await w.expect(res(NO_JOB))


# 11, 12 ------------------------------------------------------------- job status
async def test_background_job_status_and_lifecycle() -> None:
    async with running() as s:
        c, w = await s.raw(), await s.raw()
        await c.send(req(GET_STATUS, b"H:t:99"))
        await c.expect(res(STATUS_RES, b"H:t:99", b"0", b"0", b"0", b"0"))
        await c.send(req(SUBMIT_JOB_BG, b"nobody", b"", b"d"))
        await c.expect(res(JOB_CREATED, h(1)))
        await c.send(req(GET_STATUS, h(1)))
        await c.expect(res(STATUS_RES, h(1), b"1", b"0", b"0", b"0"))
        await w.send(req(CAN_DO, b"nobody"), req(GRAB_JOB))
        await w.expect(res(JOB_ASSIGN, h(1), b"nobody", b"d"))
        await w.send(req(WORK_STATUS, h(1), b"1", b"4"))
        await w.barrier()
        await c.send(req(GET_STATUS, h(1)))
        await c.expect(res(STATUS_RES, h(1), b"1", b"1", b"1", b"4"))
        await w.send(req(WORK_COMPLETE, h(1), b""))
        await w.barrier()
        await c.send(req(GET_STATUS, h(1)))
        await c.expect(res(STATUS_RES, h(1), b"0", b"0", b"0", b"0"))


# 13 ----------------------------------------------------------------- exceptions
async def test_exceptions_option_and_conversion() -> None:
    async with running() as s:
        plain, exc, w = await s.raw(), await s.raw(), await s.raw()
        await exc.send(req(OPTION_REQ, b"Exceptions"))
        await exc.expect(res(OPTION_RES, b"Exceptions"))
        await plain.send(req(OPTION_REQ, b"bogus"))
        await plain.expect(
            res(ERROR, b"UNKNOWN_OPTION", b"Server does not recognize given option")
        )
        await plain.send(req(SUBMIT_JOB, b"f", b"u", b"d"))
        await plain.expect(res(JOB_CREATED, h(1)))
        await exc.send(req(SUBMIT_JOB, b"f", b"u", b"d"))
        await exc.expect(res(JOB_CREATED, h(1)))
        await w.send(req(CAN_DO, b"f"), req(GRAB_JOB))
        await w.expect(res(JOB_ASSIGN, h(1), b"f", b"d"))
        await w.send(req(WORK_EXCEPTION, h(1), b"boom"))
        await exc.expect(res(WORK_EXCEPTION, h(1), b"boom"))
        await plain.expect(res(WORK_FAIL, h(1)))  # no trailing NUL
        # Perl's worker follows WORK_EXCEPTION with WORK_FAIL: swallowed (gearmand answers
        # JOB_NOT_FOUND, which kills the Perl worker); a second one is refused.
        await w.send(req(WORK_FAIL, h(1)))
        await w.barrier()
        await w.send(req(WORK_FAIL, h(1)))
        await w.expect(res(ERROR, b"JOB_NOT_FOUND", b"Job given in work result not found"))


# 14 ----------------------------------------------------------------- warning
async def test_warning_and_data_forwarded() -> None:
    async with running() as s:
        c, w = await s.raw(), await s.raw()
        await c.send(req(SUBMIT_JOB, b"f", b"", b"d"))
        await c.expect(res(JOB_CREATED, h(1)))
        await w.send(req(CAN_DO, b"f"), req(GRAB_JOB))
        await w.expect(res(JOB_ASSIGN, h(1), b"f", b"d"))
        await w.send(req(WORK_WARNING, h(1), b"careful"), req(WORK_DATA, h(1), b"part1"))
        await w.send(req(WORK_DATA, h(1), b"part2"), req(WORK_COMPLETE, h(1), b""))
        await c.expect(
            res(WORK_WARNING, h(1), b"careful"),
            res(WORK_DATA, h(1), b"part1"),
            res(WORK_DATA, h(1), b"part2"),
            res(WORK_COMPLETE, h(1), b""),
        )


# 15 ----------------------------------------------------------------- large work
async def test_large_workloads_echo_unchanged() -> None:
    async with running() as s:
        c, w = await s.raw(), await s.raw()
        await w.send(req(CAN_DO, b"echo"))
        for n, size in enumerate((100, 10_000, 100_000, 1_000_000), 1):
            blob = random.randbytes(size).replace(b"", b"")
            await c.send(req(SUBMIT_JOB, b"echo", b"", blob))
            await c.expect(res(JOB_CREATED, h(n)))
            await w.send(req(GRAB_JOB))
            await w.expect(res(JOB_ASSIGN, h(n), b"echo", blob))
            await w.send(req(WORK_COMPLETE, h(n), blob))
            await c.expect(res(WORK_COMPLETE, h(n), blob))


# 16 ----------------------------------------------------------------- limits
async def test_limits() -> None:
    async with running() as s:
        c, w = await s.raw(), await s.raw()
        long_name = b"f" * 512
        await c.send(req(SUBMIT_JOB, long_name, b"u" * 64, b"d"))
        await c.expect(res(JOB_CREATED, h(1)))
        await c.send(req(SUBMIT_JOB, b"f" * 600, b"", b"d"))  # no name limit, as gearmand
        await c.expect(res(JOB_CREATED, h(2)))
        await c.send(req(SUBMIT_JOB, b"f", b"u" * 65, b"d"))
        await c.expect(res(ERROR, b"ARGUMENT_TOO_LARGE", b"Unique value too large"))
        await w.send(req(CAN_DO, long_name), req(GRAB_JOB_UNIQ))
        await w.expect(res(JOB_ASSIGN_UNIQ, h(1), long_name, b"u" * 64, b"d"))


# 17 ----------------------------------------------------------------- epoch
@pytest.mark.slow
async def test_epoch_job_wakes_sleeping_worker_when_due() -> None:
    async with running() as s:
        c, w = await s.raw(), await s.raw()
        await w.send(req(CAN_DO, b"f"), req(PRE_SLEEP))
        await w.barrier()
        due = int(time.time()) + 1
        await c.send(req(SUBMIT_JOB_EPOCH, b"f", b"e1", b"%d" % due, b"later"))
        await c.expect(res(JOB_CREATED, h(1)))
        await w.expect(res(NOOP))
        assert time.time() >= due
        assert await _run_one(w, b"f") == b"later"


async def test_past_epoch_runs_at_once() -> None:
    async with running() as s:
        c, w = await s.raw(), await s.raw()
        await c.send(req(SUBMIT_JOB_EPOCH, b"f", b"e1", b"0", b"now"))
        await c.expect(res(JOB_CREATED, h(1)))
        await w.send(req(CAN_DO, b"f"))
        assert await _run_one(w, b"f") == b"now"


# 18 ----------------------------------------------------------------- map/reduce
async def test_reduce_job_assign_all() -> None:
    async with running() as s:
        c, w = await s.raw(), await s.raw()
        await c.send(req(SUBMIT_REDUCE_JOB, b"map", b"u1", b"cat", b"", b"a b c"))
        await c.expect(res(JOB_CREATED, h(1)))
        await c.send(req(SUBMIT_REDUCE_JOB, b"map", b"u2", b"cat", b"", b"d e"))
        await c.expect(res(JOB_CREATED, h(2)))
        await w.send(req(CAN_DO, b"map"), req(GRAB_JOB_ALL))
        await w.expect(res(JOB_ASSIGN_ALL, h(1), b"map", b"u1", b"cat", b"a b c"))
        await w.send(req(GRAB_JOB_UNIQ))
        await w.expect(res(JOB_ASSIGN_UNIQ, h(2), b"map", b"u2", b"d e"))
        await w.send(req(WORK_COMPLETE, h(1), b"abc"), req(WORK_FAIL, h(2)))
        await c.expect(res(WORK_COMPLETE, h(1), b"abc"), res(WORK_FAIL, h(2)))


# 19 ----------------------------------------------------------------- cancel, admin
async def test_admin_formats_and_cancel() -> None:
    async with running() as s:
        c, a = await s.raw(), await s.raw()
        await c.send(req(SUBMIT_JOB, b"f", b"uq", b"d"))
        await c.expect(res(JOB_CREATED, h(1)))
        assert await a.admin(b"status", listing=True) == b"f\t1\t0\t0\n.\n"
        assert await a.admin(b"prioritystatus", listing=True) == b"f\t0\t1\t0\t0\n.\n"
        assert await a.admin(b"show jobs", listing=True) == h(1) + b"\t0\t0\t0\n.\n"
        assert await a.admin(b"show unique jobs", listing=True) == b"uq\n.\n"
        assert await a.admin(b"cancel job H:t:9") == b"ERR UNKNOWN_JOB\r\n"
        assert await a.admin(b"cancel job " + h(1)) == b"OK\r\n"
        await c.expect(res(WORK_FAIL, h(1)))
        assert await a.admin(b"status", listing=True) == b"f\t0\t0\t0\n.\n"


# 20 ----------------------------------------------------------------- sqlite
async def test_sqlite_restart_replays_background_jobs(tmp_path: Path) -> None:
    db = str(tmp_path / "q.sqlite")
    async with running(store=SqliteStore(db)) as s:
        c = await s.raw()
        for i in range(8):
            await c.send(req(SUBMIT_JOB_BG, b"f", b"u%d" % i, b"job%d" % i))
            await c.expect(res(JOB_CREATED, h(i + 1)))
    async with running(store=SqliteStore(db)) as s:
        w = await s.raw()
        await w.send(req(CAN_DO, b"f"))
        got = sorted([await _run_one(w, b"f") for _ in range(8)])
        assert got == [b"job%d" % i for i in range(8)]
        await w.barrier()
    async with running(store=SqliteStore(db)) as s:
        assert s.server.scheduler.job_count == 0


async def test_sqlite_store_on_shutdown(tmp_path: Path) -> None:
    db = str(tmp_path / "q.sqlite")
    async with running(store=SqliteStore(db, store_on_shutdown=True)) as s:
        c = await s.raw()
        await c.send(req(SUBMIT_JOB_BG, b"f", b"u1", b"kept"))
        await c.expect(res(JOB_CREATED, h(1)))
    async with running(store=SqliteStore(db, store_on_shutdown=True)) as s:
        assert s.server.scheduler.job_count == 1
        w = await s.raw()
        await w.send(req(CAN_DO, b"f"))
        assert await _run_one(w, b"f") == b"kept"
        await w.barrier()
    async with running(store=SqliteStore(db, store_on_shutdown=True)) as s:
        assert s.server.scheduler.job_count == 0


class FlakyStore(SqliteStore):
    """An SQLite queue whose commits fail while ``failing`` is set."""

    failing = False

    def commit(self) -> None:
        if self.failing and self.dirty:
            self._ops.clear()
            raise StoreError("disk I/O error")
        super().commit()


async def test_failed_commit_answers_queue_error(tmp_path: Path) -> None:
    store = FlakyStore(str(tmp_path / "q.sqlite"))
    store.failing = True
    async with running(store=store) as s:
        c = await s.raw()
        await c.send(req(SUBMIT_JOB_BG, b"f", b"u1", b"lost"), req(ECHO_REQ, b"after"))
        await c.expect(res(ERROR, b"QUEUE_ERROR", b"QUEUE_ERROR"), res(ECHO_RES, b"after"))
        store.failing = False
        await c.send(req(SUBMIT_JOB_BG, b"f", b"u2", b"kept"))
        await c.expect(res(JOB_CREATED, h(2)))
        w = await s.raw()
        await w.send(req(CAN_DO, b"f"))
        assert await _run_one(w, b"f") == b"kept"
        await w.send(req(GRAB_JOB))
        await w.expect(res(NO_JOB))
    async with running(store=SqliteStore(str(tmp_path / "q.sqlite"))) as s:
        assert s.server.scheduler.job_count == 0


async def test_40_background_jobs_drained_by_10_workers() -> None:
    async with running() as s:
        c = await s.raw()
        for i in range(40):
            await c.send(req(SUBMIT_JOB_BG, b"f", b"u%d" % i, b"%d" % i))
        await c.expect(*(res(JOB_CREATED, h(i + 1)) for i in range(40)))
        done: list[bytes] = []

        async def work() -> None:
            w = await s.raw()
            await w.send(req(CAN_DO, b"f"))
            while True:
                await w.send(req(GRAB_JOB))
                packet = await w.packet()
                if packet == res(NO_JOB):
                    return
                handle, _, data = packet[12:].split(b"\0", 2)
                done.append(data)
                await w.send(req(WORK_COMPLETE, handle, b""))

        async with anyio.create_task_group() as tg:
            for _ in range(10):
                tg.start_soon(work)
        assert sorted(done, key=int) == [b"%d" % i for i in range(40)]


# 21 ----------------------------------------------------------------- client id
async def test_set_client_id_shown_by_workers() -> None:
    async with running() as s:
        w, a = await s.raw(), await s.raw()
        await w.send(req(SET_CLIENT_ID, b"my-worker"), req(CAN_DO, b"f1"), req(CAN_DO, b"f2"))
        await w.barrier()
        lines = (await a.admin(b"workers", listing=True)).splitlines()
        mine = [line for line in lines if b" my-worker :" in line]
        assert len(mine) == 1
        assert mine[0].startswith(b"")
        assert mine[0].split(b" ", 1)[1] == b"127.0.0.1 my-worker : f2 f1"
        assert any(line.endswith(b" - :") for line in lines)  # the admin connection


# 22 ----------------------------------------------------------------- garbage
async def test_random_port_data_does_not_hurt_the_server() -> None:
    rng = random.Random(22)
    async with running() as s:
        keep = await s.raw()
        for _ in range(50):
            g = await s.raw()
            await g.send(rng.randbytes(rng.randrange(1, 1024)))
            await g.aclose()
        await keep.barrier()


# reserved packets -------------------------------------------------------------
async def test_reserved_packets_answered_invalid_command() -> None:
    async with running() as s:
        c = await s.raw()
        invalid = res(ERROR, b"INVALID_COMMAND", b"Command not expected")
        await c.send(req(ALL_YOURS))
        await c.expect(invalid)
        await c.send(req(UNUSED))
        await c.expect(invalid)
        fields = (b"f", b"", b"*", b"*", b"*", b"*", b"*", b"d")
        await c.send(req(SUBMIT_JOB_SCHED, *fields))
        await c.expect(invalid)
        await c.barrier()
        # A server-to-client packet poisons gearproto's stream: ERROR, then closed.
        await c.send(req(NOOP))
        await c.expect(invalid)
        assert await c.closed()
        magic = await s.raw()
        await magic.send(res(ECHO_REQ, b"x"))
        await magic.expect(res(ERROR, b"INVALID_MAGIC", b"Request magic expected"))
        assert await magic.closed()
