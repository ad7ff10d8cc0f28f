# The engine's hot loop: events -> books -> simulated exchange -> strategy hooks, in C, calling
# Python only for the hooks a strategy overrides.
from libc.stdint cimport int64_t, uint32_t
from hftcore._ext.types cimport ts_t
from hftcore._ext.book cimport L2BookC
from hftcore._ext.events cimport Event
from hftcore._ext.sim cimport SimCore, Msg
from hftcore._ext.hist cimport LatencyHist

# Measured stages: the order of hftcore.metrics.STAGES (EngineCore.record / histograms)
cdef enum:
    STAGE_RECEIVE = 0        # a frame from the socket to the feed (live venues record it)
    STAGE_DECODE = 1         # one venue message decoded
    STAGE_BOOK = 2           # one venue message applied to its book and the simulator
    STAGE_STRATEGY = 3       # the hooks called after one message
    STAGE_RISK = 4           # one order through the risk check and the order manager
    STAGE_SEND = 5           # one order handed to the venue (encoded and sent / simulated)
    STAGE_TICK_TO_TRADE = 6  # from a frame's receipt (or a message's hooks) to an order sent
    N_STAGES = 7

ctypedef struct InstState:
    L2BookC* book
    int valid                # the book is in sync (hooks are called only then)
    int top                  # the best bid/ask changed in the current message
    int changed              # some level changed in the current message
    int status_changed
    int want_bbo             # some strategy overrides on_bbo for this instrument
    int want_book
    int want_trade
    int want_status
    int want_event
    int64_t deltas
    int64_t trades
    int64_t messages
    int64_t checksums_ok
    int64_t checksums_failed
    int64_t bad_deltas       # refused by the book (negative size, off-grid, crossed policy)
    ts_t last_local_ts
    ts_t last_exchange_ts


cdef class EngineCore:
    cdef InstState* ist
    cdef Py_ssize_t n_inst
    cdef list instruments        # Instrument objects by index
    cdef list books              # L2Book objects by index
    cdef list sub_bbo            # per instrument: tuple of strategies overriding on_bbo
    cdef list sub_book
    cdef list sub_trade
    cdef list sub_status
    cdef list sub_event
    cdef object host             # hftcore.engine.Engine
    cdef SimCore sim             # None outside backtest / paper
    cdef readonly ts_t now
    cdef readonly int64_t events
    cdef readonly int64_t out_of_order
    cdef readonly int64_t hook_calls
    cdef readonly int64_t msg_wall_ns   # monotonic clock when the current message's hooks began
    cdef public int64_t frame_wall_ns   # live: when the current frame was received (0: none)
    cdef int measure
    cdef public int pending       # the host has notifications to deliver after this hook
    cdef LatencyHist* hists[7]
    cdef list _hist_objs
    cdef int64_t msg_t0
    cdef int msg_open
    cdef void record(self, int stage, int64_t ns) noexcept
    cdef object _sides           # (Side.BUY, Side.SELL, None)
    cdef object _trade_cls
    cdef int _run(self, const Event* ev, Py_ssize_t n) except -1
    cdef int drain(self, ts_t t) except -1
    cdef int end_message(self, uint32_t i, InstState* st) except -1
    cdef int handle_msg(self, Msg* m) except -1
    cdef bint checksum_ok(self, InstState* st, const Event* e) noexcept
    cdef int call_trade(self, uint32_t i, const Event* e) except -1
    cdef int hooks(self, uint32_t i, InstState* st, int status, int top, int changed) except -1
    cdef int call_event(self, uint32_t i, const Event* e) except -1
