# C declarations for matching_engine/engine.py compiled by Cython as
# matching_engine._engine_c (setup.py): see _book_c.pxd. Values stay Python
# objects; the engine's own records get C struct fields, the module-level names
# of the hot path are C variables (no dict lookup per use), and the compiled
# book is called directly.

cimport cython

from matching_engine._book_c cimport FastBook as _CompiledBook

cdef object BUY, SELL, GTC, DAY, IOC, FOK, _new, _MARKET, _LIMIT, _USER
cdef object FastBook, PlaceOrder, CancelOrder, OrderAccepted
cdef object CancelReason, TimeInForce, SelfTradePrevention
cdef dict _SIDES, _TYPES, _TIFS, _STPS
cdef object _UNKNOWN_SYMBOL, _MARKET_HALTED, _INVALID_PRICE, _PRICE_OFF_TICK
cdef object _PRICE_OUTSIDE_BAND, _INVALID_QUANTITY, _QUANTITY_OFF_LOT, _INVALID_TIF
cdef object _DUPLICATE_ORDER_ID, _ORDER_NOT_OPEN, _NOT_ORDER_OWNER, _INVALID_STP
cdef object _POST_ONLY_WOULD_CROSS, _place_fields, _cancel_fields


@cython.final
cdef class _Market:
    cdef public object instrument, book, tick_fen, lot_kg, halted, band_low, band_high


cdef class MatchingEngine:
    cdef public object book_class, stp
    cdef readonly dict _markets
    cdef dict _handlers

    @cython.locals(m=_Market, out=list, fast=_CompiledBook)
    cpdef list process(self, c)
