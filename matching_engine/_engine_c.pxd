# C declarations for matching_engine/engine.py compiled by Cython as
# matching_engine._engine_c (setup.py): see _book_c.pxd. Values stay Python
# objects; only the engine's own records get C struct fields.

cimport cython


@cython.final
cdef class _Market:
    cdef public object instrument, book, tick_fen, lot_kg, halted, band_low, band_high


cdef class MatchingEngine:
    cdef public object book_class, stp
    cdef readonly dict _markets
    cdef dict _handlers

    @cython.locals(m=_Market, out=list)
    cpdef list process(self, c)
