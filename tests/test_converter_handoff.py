"""The converter processes hand their COPY buffers over as raw bytes (loaders.engine.workers):
what the writer receives is byte for byte what the converter built, whatever the size."""

from __future__ import annotations

import multiprocessing as mp
import os

import numpy as np
import pytest

from loaders.engine import workers
from loaders.engine.converted import DirectBatch

SIZES = [0, 1, 4, 65_535, 65_536, 65_537, 3_000_001]  # around the pipe's default buffer


def _batch(size: int, seed: int) -> DirectBatch:
    rng = np.random.default_rng(seed)
    return DirectBatch(
        read=size, rejects=[], flags={"x": seed}, unchanged=0, changed_keys=[], reused=0,
        layer_rows=size, layer_data=bytearray(rng.bytes(size)), prefixes=["p"],
        new_prefix=np.arange(3), new_rank=np.arange(3), layer_code_pos=np.arange(3),
        registry_data=bytearray(rng.bytes(size // 2 + 7)), registry_code_pos=np.arange(2),
        registry_order=np.arange(2), accepted=[f"k{seed}"])


def _send_all(out) -> None:
    for i, size in enumerate(SIZES):
        workers.send_batch(out, _batch(size, i))
    out.send(("end", None))
    out.close()


def _sender():
    """(the receiving end, the process) of a forked sender of every batch of SIZES."""
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    workers._widen(send)
    proc = ctx.Process(target=_send_all, args=(send,))
    proc.start()
    send.close()
    return recv, proc


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")
def test_buffers_arrive_byte_for_byte_after_their_batch():
    recv, proc = _sender()
    got = []
    while True:
        kind, item = recv.recv()
        if kind == "end":
            break
        assert kind == "batch" and item.layer_data is None and item.registry_data is None
        for f in workers.RAW_FIELDS:
            setattr(item, f, workers.recv_raw(recv))
        got.append(item)
    proc.join(10)
    assert proc.exitcode == 0
    assert len(got) == len(SIZES)
    for i, (size, item) in enumerate(zip(SIZES, got)):
        want = _batch(size, i)  # rebuilt from its seed: independent of the pipe
        assert isinstance(item.layer_data, bytearray)  # the writer patches it in place
        assert bytes(item.layer_data) == bytes(want.layer_data)
        assert bytes(item.registry_data) == bytes(want.registry_data)
        assert item.flags == {"x": i} and item.accepted == [f"k{i}"]
        np.testing.assert_array_equal(item.layer_code_pos, want.layer_code_pos)


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")
def test_pooled_buffers_are_taken_again_only_once_free():
    """The writer's buffers are used again (no fresh pages a batch), never while a batch,
    a view of it or a queued COPY still holds one: each batch kept reads as it was sent."""
    recv, proc = _sender()
    pools = {f: workers.Buffers() for f in workers.RAW_FIELDS}
    kept, seen = [], set()
    while True:
        kind, item = recv.recv()
        if kind == "end":
            break
        for f in workers.RAW_FIELDS:
            setattr(item, f, workers.recv_raw(recv, pools[f]))
        seen.add(id(item.layer_data.obj))
        if len(kept) % 2 == 0:
            kept.append(item)  # held on to, as a batch in flight is
        else:
            kept.append(None)  # dropped: its buffers free for the next batches
            want = _batch(SIZES[len(kept) - 1], len(kept) - 1)
            assert bytes(item.layer_data) == bytes(want.layer_data)
            del item
    proc.join(10)
    assert proc.exitcode == 0
    for i, item in enumerate(kept):
        if item is not None:  # not overwritten by the batches received after it
            want = _batch(SIZES[i], i)
            assert bytes(item.layer_data) == bytes(want.layer_data)
            assert bytes(item.registry_data) == bytes(want.registry_data)
    # four batches held, three dropped: fewer buffers than batches
    assert len(seen) < len(SIZES)


def test_a_writer_gone_mid_buffer_is_an_end_of_file():
    r, w = os.pipe()
    os.write(w, (10).to_bytes(4, "big") + b"abc")  # 10 bytes announced, 3 sent
    os.close(w)

    class _Conn:
        def fileno(self) -> int:
            return r

    with pytest.raises(EOFError):
        workers.recv_raw(_Conn())
    os.close(r)


def _report_niceness(out, nice: int) -> None:
    before = os.nice(0)
    workers._yield_cpu(nice)
    out.send((before, os.nice(0)))
    out.close()


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")
@pytest.mark.parametrize("nice", [workers.NICE, 0])
def test_converter_processes_yield_the_cores_to_the_server(nice):
    """Converters of a bulk load run niced (CIM_CONVERTER_NICE, default 10), a reload's not;
    the writer never."""
    assert workers.NICE == 10  # the default (the environment of the tests sets none)
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_report_niceness, args=(send, nice))
    proc.start()
    send.close()
    before, after = recv.recv()
    proc.join(10)
    assert after == min(before + nice, 19)
    assert os.nice(0) == before  # this process (the writer) keeps its priority


class _Cyclic:
    """Garbage only the collector frees (a reference cycle), with a finaliser that says so."""

    freed = 0

    def __init__(self) -> None:
        self.me = self

    def __del__(self) -> None:
        type(self).freed += 1


class _RecordingConverter:
    """Each batch leaves 100 cycles behind and reports, in its flags, whether the collector
    runs by itself in this process and how many cycles of the earlier batches are freed."""

    def prepare(self, batch):
        for _ in range(100):
            _Cyclic()
        return None

    def saw(self, keys) -> None:
        pass

    def finish(self, batch, prepared) -> DirectBatch:
        import gc

        b = _batch(0, batch)
        b.flags = {"gc_enabled": int(gc.isenabled()), "freed": _Cyclic.freed}
        return b


@pytest.mark.skipif("fork" not in mp.get_all_start_methods(), reason="needs fork")
def test_converters_collect_garbage_once_a_batch():
    """The collector's passes triggered by allocations cost a converter a fifth of its CPU:
    a converter process collects once a batch instead — and so frees every batch's cycles."""
    def make(keep=None):
        return _RecordingConverter(), iter(range(4))

    got = [b.flags for b in workers.converted_batches(make, 1)]
    assert [f["gc_enabled"] for f in got] == [0, 0, 0, 0]
    # when batch j is finished, the cycles of batches 0 … j-1 were collected (100 each)
    assert [f["freed"] for f in got] == [0, 100, 200, 300]
    import gc
    assert gc.isenabled()  # the writer's process keeps its collector


def test_a_full_pool_lets_a_free_buffer_go_not_one_in_use():
    pool = workers.Buffers()
    held = [pool.take(10 + i) for i in range(workers.Buffers.KEEP)]
    in_use = {id(v.obj) for i, v in enumerate(held) if i != 1}
    del held[1]  # the second batch is done, the first (the oldest) still in flight
    extra = pool.take(1000)  # larger than any: a new buffer, one of the pool's let go
    kept = {id(b) for b in pool._pool}
    assert in_use <= kept and id(extra.obj) in kept and len(kept) == workers.Buffers.KEEP
