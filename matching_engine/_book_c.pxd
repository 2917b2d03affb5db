# C declarations for matching_engine/book.py compiled by Cython as
# matching_engine._book_c (setup.py). The Python source stays the one
# implementation: this file only gives its hot classes C struct fields and
# its hot methods typed locals. Every value the book passes around stays a
# Python object (ints keep arbitrary precision), so the compiled book behaves
# exactly as the pure one; tests/unit/engine checks the two against each other.

cimport cython

# module-level names of the hot paths as C variables: no dict lookup per use
cdef object BUY, SELL, GTC, DAY, FOK, _new, bisect_left, insort
cdef object BookLevelChanged, OrderCancelled, OrderReduced, OrderReplaced
cdef object SelfTradePrevented, Trade
cdef object _SELF_TRADE, _FOK_NOT_FILLABLE, _IOC_REMAINDER, _MARKET_REMAINDER
cdef object _EXPIRED, _CANCEL_RESTING, _CANCEL_BOTH


@cython.final
cdef class _Order:
    cdef public object order_id, owner, side, price_fen, remaining_kg, tif, stp, post_only
    cdef public object arrival
    cdef public _Level level
    cdef public _Order prev
    cdef public _Order next


@cython.final
cdef class _Level:
    cdef public _Order head, tail
    cdef public object key, price_fen, total_kg


@cython.final
cdef class FastBook:
    cdef public object symbol, stp, trade_count, session_last_price_fen
    cdef public dict orders
    cdef dict _bids, _asks
    cdef list _bid_keys, _ask_keys
    cdef object _arrivals

    @cython.locals(o=_Order, level=_Level, keys=list, levels=dict)
    cpdef place(self, seq, ts_us, order_id, owner, side, price_fen, quantity_kg, tif,
                is_market, stp, post_only, list out)

    @cython.locals(o=_Order, level=_Level, prev=_Order, nxt=_Order, keys=list)
    cpdef cancel(self, seq, ts_us, order_id, reason, list out)

    @cython.locals(o=_Order, level=_Level, keys=list)
    cpdef amend(self, seq, ts_us, order_id, quantity_kg, price_fen, list out)

    @cython.locals(o=_Order, keys=list, levels=dict)
    cpdef _fillable(self, owner, side, limit_fen, quantity_kg, stp)

    @cython.locals(level=_Level, maker=_Order, keys=list, levels=dict, orders=dict,
                   cancel_resting=bint)
    cpdef _match(self, seq, ts_us, order_id, owner, side, limit_fen, remaining, stp, list out)

    @cython.locals(o=_Order, level=_Level, keys=list, levels=dict)
    cpdef _rest(self, seq, order_id, owner, side, price_fen, remaining, tif, stp, post_only,
                list out)

    @cython.locals(level=_Level, prev=_Order, nxt=_Order, keys=list, levels=dict)
    cpdef _remove(self, seq, _Order o, list out)

    @cython.locals(level=_Level, prev=_Order, nxt=_Order, tail=_Order)
    cpdef _move_to_back(self, _Order o)

    @cython.locals(o=_Order, keys=list, levels=dict)
    cpdef crossable_orders(self, side, limit_fen, cap)
