"""The converter processes of a direct write (:mod:`loaders.engine.direct`): forked, so that
Python converts while PostgreSQL writes, each taking batches in turn; batches come back in row
order, and duplicates are still judged in row order across processes.

A batch's two COPY buffers (~0.5 GB per million footprints) go through the pipe as raw bytes
read straight into the writer's buffers, not pickled: pickling them, and unpickling them out of
the pipe's chunks, cost ~1 s of the two cores per million rows."""

from __future__ import annotations

import fcntl
import multiprocessing as mp
import os
import struct
import sys
import traceback
from collections.abc import Callable, Iterator

from cim.errors import CimError

# the batch's fields sent as raw bytes after its pickled rest (in this order)
RAW_FIELDS = ("layer_data", "registry_data")
_PIPE_SIZE = 1 << 20  # Linux's default pipe-max-size: fewer wake-ups per 20 MB buffer


def _widen(conn) -> None:
    """A larger pipe buffer where the OS allows it (Linux); the default 64 KiB still works."""
    try:
        fcntl.fcntl(conn.fileno(), getattr(fcntl, "F_SETPIPE_SZ", 1031), _PIPE_SIZE)
    except OSError:
        pass


NICE = int(os.environ.get("CIM_CONVERTER_NICE", "10"))


def _yield_cpu(nice: int) -> None:
    """Converters of a load that writes most of its rows run at a lower priority
    (``CIM_CONVERTER_NICE``, default 10): its critical path is PostgreSQL's one backend,
    which COPYs, builds indexes and commits one statement after another; when the cores are
    short, it should get them and the converters (which only need to stay a batch ahead) the
    rest — and interactive queries of the platform keep their share during a bulk load. (A
    reload's converters are its critical path: they keep their priority.)"""
    if nice > 0:
        try:
            os.nice(nice)
        except OSError:
            pass


def send_batch(out, batch) -> None:
    """``batch`` without its raw buffers (pickled), then each buffer as it is."""
    raw = [getattr(batch, f) for f in RAW_FIELDS]
    for f in RAW_FIELDS:
        setattr(batch, f, None)
    out.send(("batch", batch))
    for buf in raw:
        out.send_bytes(buf)


class Buffers:
    """The writer's receive buffers, used again once nothing references them: a fresh
    bytearray per batch and field was zero-filled, then faulted in page by page (~0.6 GB a
    million footprints; on a VM that hands freed memory back to its host each fresh page
    costs several microseconds more). A buffer is free when only this pool holds it: the
    batch, its views and a queued registry COPY keep it from being taken."""

    KEEP = 4  # buffers kept per field: batches in flight are one or two

    def __init__(self) -> None:
        self._pool: list[bytearray] = []

    def take(self, size: int) -> memoryview:
        """A writable view of ``size`` bytes, of a free buffer if one is large enough."""
        for buf in self._pool:
            # the pool's reference, the loop variable's and getrefcount's own: nothing else
            if len(buf) >= size and sys.getrefcount(buf) == 3:
                return memoryview(buf)[:size]
        if len(self._pool) >= self.KEEP:  # one less: a free one (too small), else the oldest
            # (the list's reference and getrefcount's own: enumerate's tuple would hold one)
            free = [i for i in range(len(self._pool)) if sys.getrefcount(self._pool[i]) == 2]
            del self._pool[free[0] if free else 0]  # (a batch still using it keeps it alive)
        buf = bytearray(size + (size >> 3))  # room for a larger batch to come
        self._pool.append(buf)
        return memoryview(buf)[:size]


def recv_raw(conn, buffers: Buffers | None = None) -> bytearray | memoryview:
    """One ``send_bytes`` message read straight into a buffer (one copy, no pickle):
    multiprocessing's own ``recv_bytes`` gathers the pipe's chunks and copies them twice.
    With ``buffers``, a view of one of theirs (see :class:`Buffers`), else a new bytearray."""
    fd = conn.fileno()
    (size,) = struct.unpack("!i", _read_exact(fd, 4))
    if size == -1:  # the framing of messages over 2 GiB
        (size,) = struct.unpack("!Q", _read_exact(fd, 8))
    if buffers is None:
        buf: bytearray | memoryview = bytearray(size)
        view = memoryview(buf)
    else:
        buf = view = buffers.take(size)
    got = 0
    while got < size:
        k = os.readv(fd, [view[got:]])
        if k == 0:
            raise EOFError
        got += k
    return buf


def _read_exact(fd: int, n: int) -> bytes:
    parts = []
    while n:
        chunk = os.read(fd, n)
        if not chunk:
            raise EOFError
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def _worker(rank: int, workers: int, out, keys_in, make: Callable[..., tuple],
            nice: int = 0, parent_ends: tuple = ()) -> None:
    """Converter process ``rank`` of ``workers``: converts batches rank, rank + workers, …
    of the source. Duplicates are judged in row order: before finishing batch j it takes in
    the keys accepted by every earlier batch of the other processes (forwarded by the writer
    as it receives them, drained by a thread so that the writer never waits).

    ``parent_ends``: the writer's ends of the pipes, which the fork copied here; closed at
    once, so that when the writer dies (killed) no process holds them any more: the next
    send fails and the keys' reader sees the end, and the converter exits. Kept open, they
    left a killed load's converters waiting for ever on a full pipe or for keys, holding
    their memory (~0.5 GB each) and the deleted delivery."""
    import gc
    import queue
    import threading

    for end in parent_ends:
        end.close()

    # what the process inherits (the dataset's keys, the writer's modules) is never garbage:
    # out of the collector's passes, which would also touch and so copy its pages
    gc.freeze()
    # a batch allocates millions of short-lived objects that reference counting frees; the
    # collector's passes, triggered by allocation counts, cost a fifth of a converter's CPU
    # (400,000 rows converted, three alternating pairs: buildings 2.95–3.57 → 2.5–3.0 s,
    # components 3.6–4.8 → 3.35–3.55 s). Collected once a batch instead (the few cycles,
    # pandas' internals among them, are freed there)
    gc.disable()
    _yield_cpu(nice)
    inbox: queue.Queue = queue.Queue()

    def drain() -> None:
        try:
            while True:
                inbox.put(keys_in.recv())
        except (EOFError, OSError):
            inbox.put(None)

    threading.Thread(target=drain, daemon=True).start()
    try:
        conv, batches = make(lambda j: j % workers == rank)  # another's batches: None
        known_upto = -1  # keys of every batch up to this one are in conv.seen
        for j, batch in enumerate(batches):
            if j % workers != rank:
                continue
            prepared = conv.prepare(batch)
            while known_upto < j - 1:
                nxt = known_upto + 1
                if nxt % workers != rank:
                    keys = inbox.get()
                    if keys is None:
                        return  # the writer is gone
                    conv.saw(keys)
                known_upto = nxt
            send_batch(out, conv.finish(batch, prepared))
            del prepared, batch
            gc.collect()
            # what outlives a batch (the converter, the reader, the keys seen so far) is not
            # garbage either: a full collection traversed it every batch (40–85 ms a batch
            # for 1M footprints when the keys were a set of strings, growing with it)
            gc.freeze()
            known_upto = j
        out.send(("end", None))
    except OSError as exc:
        if _writer_gone(exc):
            return  # the writer died (killed): nobody to tell
        _hand_over(out, rank, exc)
    except BaseException as exc:  # noqa: BLE001 - handed to the writer, raised there
        _hand_over(out, rank, exc)
    finally:
        out.close()


def _writer_gone(exc: BaseException) -> bool:
    return isinstance(exc, (BrokenPipeError, ConnectionResetError))


def _hand_over(out, rank: int, exc: BaseException) -> None:
    """Send a converter's exception to the writer, which raises it."""
    if not isinstance(exc, CimError):  # a bug: its traceback goes with it (internal log)
        exc.add_note("in converter process " + str(rank) + ":\n"
                     + "".join(traceback.format_exception(exc)))
    try:
        try:
            out.send(("error", exc))
        except OSError:
            raise
        except Exception:  # an exception that does not pickle: its text
            out.send(("error", CimError(f"{type(exc).__name__}: {exc}")))
    except OSError as gone:
        if not _writer_gone(gone):
            raise


def converted_batches(make: Callable[..., tuple], workers: int, nice: int = 0
                      ) -> Iterator:
    """The converted batches, in row order. ``make(keep)`` gives the converter and the
    source's batches (those ``keep(j)`` rejects may come as None); ``workers`` 0 converts
    here (small inputs, or no fork), else in that many forked processes, so that Python and
    PostgreSQL work at the same time, niced by ``nice`` (see :func:`_yield_cpu`)."""
    if workers <= 0 or "fork" not in mp.get_all_start_methods():
        conv, batches = make()
        for b in batches:
            yield conv(b)
        return
    ctx = mp.get_context("fork")
    procs, results, forwards = [], [], []
    pools = {f: Buffers() for f in RAW_FIELDS}
    try:
        for rank in range(workers):
            res_recv, res_send = ctx.Pipe(duplex=False)
            _widen(res_send)
            keys_recv, keys_send = ctx.Pipe(duplex=False)
            # the writer's ends, this worker's and the earlier workers': see _worker
            parent_ends = (res_recv, keys_send, *results, *forwards)
            proc = ctx.Process(target=_worker, args=(rank, workers, res_send, keys_recv, make,
                                                     nice, parent_ends), daemon=True)
            proc.start()
            res_send.close()
            keys_recv.close()
            procs.append(proc)
            results.append(res_recv)
            forwards.append(keys_send)
        j = 0
        while True:
            rank = j % workers
            try:
                kind, item = results[rank].recv()
                if kind == "batch":
                    for f in RAW_FIELDS:
                        setattr(item, f, recv_raw(results[rank], pools[f]))
            except EOFError:
                procs[rank].join(5)
                raise CimError(f"a converter process ended unexpectedly (exit code "
                               f"{procs[rank].exitcode})") from None
            if kind == "end":
                break
            if kind == "error":
                raise item
            if workers > 1:
                for other in range(workers):
                    if other != rank and procs[other].is_alive():
                        try:
                            forwards[other].send(item.accepted)
                        except (BrokenPipeError, ConnectionResetError):
                            pass  # that process has converted its last batch and ended
            item.accepted = None
            yield item
            j += 1
    finally:
        for c in results + forwards:
            c.close()
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
            proc.join(5)
