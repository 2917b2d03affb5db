"""Read models for live market data that the gateways serve without the core:
the order book by level and the current session's ticker figures."""

from __future__ import annotations

from sqlalchemy.orm import Mapped, mapped_column

from exchange.infra.db.models import Base


class BookLevel(Base):
    __tablename__ = "book_levels"

    symbol: Mapped[str] = mapped_column(primary_key=True)
    side: Mapped[str] = mapped_column(primary_key=True)
    price_fen: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    quantity_kg: Mapped[int]
    last_seq: Mapped[int]


class MarketSession(Base):
    """The ticker of the current session; `book_seq` is the seq of the last
    command that changed this symbol's book (the REST book's `seq`)."""

    __tablename__ = "market_sessions"

    symbol: Mapped[str] = mapped_column(primary_key=True)
    prev_close_fen: Mapped[int]
    session_start_seq: Mapped[int]
    book_seq: Mapped[int]
    open_fen: Mapped[int | None]
    high_fen: Mapped[int | None]
    low_fen: Mapped[int | None]
    last_fen: Mapped[int | None]
    volume_kg: Mapped[int]
    # Σ price_fen × quantity_kg, the exact VWAP numerator
    value: Mapped[int]
    trade_count: Mapped[int]
    last_seq: Mapped[int]
