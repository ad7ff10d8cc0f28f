# The order path as an engine written in Cython drives it: one C call per strategy action and
# one per venue event, order handles instead of Order objects (bench_orders.py builds this).
from libc.stdint cimport int32_t, int64_t

from hftcore._ext.orders cimport OrderCore


def run(OrderCore om, instrument, int64_t n, int64_t size, int64_t price):
    cdef int32_t inst = om.c_instrument(instrument)
    cdef int64_t k, h
    cdef str cid
    for k in range(n):
        h = om.c_create(inst, <int>(k & 1), size, price, 0, 0, k)
        if om.c_submit(h, k) != 0:
            raise RuntimeError("risk refused the order")
        cid = om.c_client_order_id(h)          # sent to the venue
        h = om.c_handle(cid)                    # the venue's answers carry the id
        om.c_ack(h, "v", k)
        om.c_fill(h, "t", size, price, 1, None, k)
