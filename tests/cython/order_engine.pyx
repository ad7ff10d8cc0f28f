# An engine's view of the order manager: the C API through cimport (tests/test_orders_c_api.py
# builds this module).
from libc.stdint cimport int32_t, int64_t

from hftcore._ext.orders cimport OrderCore, Order


def life_cycle(OrderCore om, instrument, int side, int64_t size, int64_t price, int64_t ts):
    """create, submit, ack, two fills (one repeated), by handle; returns what happened."""
    cdef int32_t inst = om.c_instrument(instrument)
    cdef int64_t h = om.c_create(inst, side, size, price, 0, 0, ts)
    cdef int reason = om.c_submit(h, ts + 1)
    if reason:
        return {"handle": h, "reason": reason, "status": om.c_status(h)}
    cdef str cid = om.c_client_order_id(h)
    assert om.c_handle(cid) == h
    assert om.c_handle("someone-else-1") == -1
    om.c_ack(h, "V" + cid, ts + 2)
    booked = [om.c_fill(h, "t1", size // 2, price, 0, None, ts + 3),
              om.c_fill(h, "t1", size // 2, price, 0, None, ts + 4),
              om.c_fill(h, "t2", size - size // 2, price, 1, -5, ts + 5)]
    cdef Order view = om.c_order(h)
    return {"handle": h, "reason": reason, "cid": cid, "booked": booked,
            "status": om.c_status(h), "filled": om.c_filled(h), "view": view}


def cancel_flow(OrderCore om, instrument, int64_t size, int64_t price):
    cdef int32_t inst = om.c_instrument(instrument)
    cdef int64_t h = om.c_create(inst, 1, size, price, 0, 0, 10)
    om.c_submit(h, 11)
    om.c_ack(h, "", 12)
    cdef int r = om.c_cancel(h, 13)
    cdef int pending = om.c_status(h)
    om.c_canceled(h, 14)
    return r, pending, om.c_status(h)


def bad_side(OrderCore om, instrument):
    return om.c_create(om.c_instrument(instrument), 2, 1, 1, 0, 0, 0)


def unknown_handle(OrderCore om):
    return om.c_submit(10**9, 0)
