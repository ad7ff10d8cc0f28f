# cython: freethreading_compatible = False
"""The market-data websocket listener: frame payload -> venue decoder -> books -> strategies,
in place, with no copy of the frame.

picows calls :meth:`FeedListener.on_ws_frame` with a frame that points into its read buffer;
the payload goes straight to the feed's ``noexcept nogil`` decoder (``Feed._feed_c``), and the
events it produced run through the engine's books and strategies (``EngineCore._run`` on the
feed's event buffer: what ``EngineCore.run_feed`` does, both declared in the ``.pxd`` files)
before the callback returns - the frame is only valid until then.  Fragmented messages are
joined first (the one case where bytes are copied).

Per instrument the listener keeps the last receive time (for the staleness watchdog) and tells
the venue once when a book stops being in sync - a sequence gap, a snapshot still missing, or
(checksum venues) a checksum the engine found wrong - so the venue resyncs that symbol only.
Everything that is not book data (subscription answers, errors, heartbeats, decode errors) is
handed to the venue's Python callback as ``bytes``.
"""

cimport cython
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Malloc, PyMem_Free
from libc.string cimport memset, memcmp
from libc.stdint cimport int64_t, uint32_t, uint8_t
from posix.time cimport clock_gettime, timespec, CLOCK_REALTIME

from picows.picows cimport WSListener, WSTransport, WSFrame, WSMsgType

from hftcore._ext.feed cimport Feed, BOOK_SYNCED, BOOK_BBO_ONLY
from hftcore._ext.engine cimport EngineCore
from hftcore._ext.decode cimport K_BOOK_SNAPSHOT, K_BOOK_UPDATE, K_TRADE, K_BBO, K_UNKNOWN_SYMBOL

__all__ = ["FeedListener", "realtime_ns"]

cdef Py_ssize_t MAX_MESSAGE = 64 * 1024 * 1024


cdef inline int64_t now_ns() noexcept nogil:
    cdef timespec t
    clock_gettime(CLOCK_REALTIME, &t)
    return <int64_t>t.tv_sec * 1_000_000_000 + t.tv_nsec


def realtime_ns():
    """The wall clock (ns since the epoch) the listener stamps frames with."""
    return now_ns()


@cython.final
cdef class FeedListener(WSListener):
    """picows listener of a market-data connection.

    Parameters
    ----------
    conn : hftcore.venues.ws.Connection
        Told about connect / disconnect, write pauses, keep-alive pings.
    feed : Feed
        The venue's feed (decoder + book-sync rule); instrument ids are engine indices.
    engine : hftcore.engine.Engine
        Runs the events (``engine.core.run_feed``); started on the first frame.
    on_control : callable
        ``on_control(kind, data: bytes, recv_ts)`` for messages that are not book data
        (``kind`` < 0: a message the decoder refused, already counted by the feed).
    on_sync_lost : callable
        ``on_sync_lost(index)`` once when instrument ``index``'s book leaves the synced state.
    check_valid : bool
        Read the engine's book validity after each depth message (venues with checksums: the
        engine checks them, the feed does not see the result).
    pong : bytes
        A text keep-alive answer to drop silently (OKX ``pong``); empty for none.
    """

    cdef readonly Feed feed
    cdef EngineCore core
    cdef object engine
    cdef object conn
    cdef object on_control
    cdef object on_sync_lost
    cdef bint started
    cdef bint check_valid
    cdef Py_ssize_t n_inst
    cdef int64_t* seen
    cdef uint8_t* lost
    cdef bytearray frag
    cdef bint in_frag
    cdef bytes pong
    cdef readonly int64_t frames
    cdef readonly int64_t messages
    cdef readonly int64_t data_messages
    cdef readonly int64_t control_messages
    cdef readonly int64_t bad_messages
    cdef readonly int64_t fragmented
    cdef readonly int64_t protocol_errors
    cdef readonly int64_t queued_frames
    cdef readonly int64_t bytes_received
    cdef readonly int64_t sync_lost
    cdef readonly int64_t max_lag_ns

    def __cinit__(self, *args, **kwargs):
        self.seen = NULL
        self.lost = NULL

    def __init__(self, conn, Feed feed, engine, on_control, on_sync_lost, *,
                 bint check_valid=False, bytes pong=b""):
        self.conn = conn
        self.feed = feed
        self.engine = engine
        self.core = <EngineCore?>engine.core
        self.on_control = on_control
        self.on_sync_lost = on_sync_lost
        self.check_valid = check_valid
        self.pong = pong
        self.n_inst = self.core.n_inst
        self.seen = <int64_t*>PyMem_Malloc(self.n_inst * sizeof(int64_t))
        self.lost = <uint8_t*>PyMem_Malloc(self.n_inst * sizeof(uint8_t))
        if self.seen == NULL or self.lost == NULL:
            raise MemoryError()
        memset(self.seen, 0, self.n_inst * sizeof(int64_t))
        memset(self.lost, 0, self.n_inst * sizeof(uint8_t))
        self.started = False
        self.in_frag = False

    def __dealloc__(self):
        PyMem_Free(self.seen)
        PyMem_Free(self.lost)

    # -- picows callbacks -----------------------------------------------------------------------

    cpdef on_ws_connected(self, WSTransport transport):
        self.in_frag = False
        self.frag = None
        self.conn._on_connected(transport)

    cpdef on_ws_disconnected(self, WSTransport transport):
        self.in_frag = False
        self.frag = None
        self.conn._on_disconnected(transport)

    cpdef on_ws_frame(self, WSTransport transport, WSFrame frame):
        cdef WSMsgType t = frame.msg_type
        cdef bytes whole
        self.frames += 1
        if not frame.last_in_buffer:
            self.queued_frames += 1     # more data was already waiting behind this frame
        if t == WSMsgType.TEXT or t == WSMsgType.BINARY:
            if self.in_frag:
                self.protocol_errors += 1   # a new message inside a fragmented one: drop that
                self.in_frag = False
                self.frag = None
            if frame.fin:
                self.message(frame.payload_ptr, frame.payload_size)
            else:
                self.fragmented += 1
                self.in_frag = True
                self.frag = bytearray(frame.get_payload_as_memoryview())
        elif t == WSMsgType.CONTINUATION:
            if not self.in_frag:
                self.protocol_errors += 1
                return
            self.frag += frame.get_payload_as_memoryview()
            if len(self.frag) > MAX_MESSAGE:
                self.protocol_errors += 1
                self.in_frag = False
                self.frag = None
                return
            if frame.fin:
                whole = bytes(self.frag)
                self.in_frag = False
                self.frag = None
                self.message(PyBytes_AS_STRING(whole), PyBytes_GET_SIZE(whole))
        elif t == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code(), frame.get_close_message())
            transport.disconnect()

    cpdef send_user_specific_ping(self, WSTransport transport):
        self.conn._send_ping(transport)

    cpdef is_user_specific_pong(self, WSFrame frame):
        return self.conn._is_pong(frame)

    cpdef pause_writing(self):
        self.conn._pause()

    cpdef resume_writing(self):
        self.conn._resume()

    # -- one message ----------------------------------------------------------------------------

    cdef int message(self, const char* p, Py_ssize_t n) except -1:
        cdef int64_t ts = now_ns(), lag
        cdef Py_ssize_t n_ev
        cdef int kind, state
        cdef uint32_t inst
        cdef Feed feed = self.feed
        self.messages += 1
        self.bytes_received += n
        if not self.started:
            self.start(ts)
        if self.pong is not None and PyBytes_GET_SIZE(self.pong) == n and n > 0 and \
                memcmp(p, PyBytes_AS_STRING(self.pong), n) == 0:
            self.control_messages += 1
            return 0
        kind = feed._feed_c(p, n, ts, 0)
        n_ev = feed.count
        if n_ev:
            # what EngineCore.run_feed does, without a Python-level call per frame
            feed.count = 0
            self.core._run(feed.events, n_ev)
        if K_BOOK_SNAPSHOT <= kind <= K_BBO:
            self.data_messages += 1
            inst = feed.dec.st.info.instrument_id
            if inst >= <uint32_t>self.n_inst:
                return 0
            self.seen[inst] = ts
            if feed.dec.st.info.exchange_ts:
                lag = ts - feed.dec.st.info.exchange_ts
                if lag > self.max_lag_ns:
                    self.max_lag_ns = lag
            if kind == K_BOOK_SNAPSHOT or kind == K_BOOK_UPDATE:
                state = feed.sync[inst].state
                if state == BOOK_SYNCED and not (self.check_valid and
                                                 not self.core.ist[inst].valid):
                    self.lost[inst] = 0
                elif state != BOOK_BBO_ONLY and not self.lost[inst]:
                    self.lost[inst] = 1
                    self.sync_lost += 1
                    self.on_sync_lost(inst)
            return 0
        if kind == K_UNKNOWN_SYMBOL:
            return 0
        if kind < 0:
            self.bad_messages += 1
        else:
            self.control_messages += 1
        self.on_control(kind, PyBytes_FromStringAndSize(p, n), ts)
        return 0

    cdef start(self, int64_t ts):
        if not self.engine._started:
            self.engine.start(ts)
        self.started = True

    # -- reads for the venue ---------------------------------------------------------------------

    def last_seen(self, Py_ssize_t index):
        """Receive time (ns) of instrument ``index``'s last data message (0: none yet)."""
        if not 0 <= index < self.n_inst:
            raise IndexError(f"index: {index} outside 0..{self.n_inst - 1}")
        return self.seen[index]

    def reset_sync(self, Py_ssize_t index):
        """The venue resynced instrument ``index``: report the next loss again."""
        if not 0 <= index < self.n_inst:
            raise IndexError(f"index: {index} outside 0..{self.n_inst - 1}")
        self.lost[index] = 0

    def take_max_lag(self):
        """The largest receive-minus-exchange time (ns) since the last call, then reset."""
        v = self.max_lag_ns
        self.max_lag_ns = 0
        return v

    def counters(self):
        """Frames, messages (data / control / bad), fragments, queued frames, bytes."""
        return {"frames": self.frames, "messages": self.messages,
                "data_messages": self.data_messages, "control_messages": self.control_messages,
                "bad_messages": self.bad_messages, "fragmented": self.fragmented,
                "protocol_errors": self.protocol_errors, "queued_frames": self.queued_frames,
                "bytes": self.bytes_received, "sync_lost": self.sync_lost}
