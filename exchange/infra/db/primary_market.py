"""Read models of the primary market and negotiated trades: auctions of reserve quota
with their sealed bids, and block trades (协议转让)."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from exchange.infra.db.models import Base, _in, _non_negative, _positive, _zero
from settlement.auctions import AuctionStatus, BidStatus
from settlement.block_trades import BlockTradeStatus


class Auction(Base):
    __tablename__ = "auctions"
    __table_args__ = (
        *_positive("quantity_kg", "reserve_price_fen", "bidder_cap_pct"),
        *_non_negative("sold_kg"),
        CheckConstraint(_in("status", AuctionStatus), name="status_known"),
        Index(None, "symbol", "created_seq"),
    )

    id: Mapped[str] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(ForeignKey("instruments.symbol"))
    quantity_kg: Mapped[int]
    reserve_price_fen: Mapped[int]
    bidder_cap_pct: Mapped[int]
    note: Mapped[str]
    status: Mapped[str]
    clearing_price_fen: Mapped[int | None]
    sold_kg: Mapped[int] = _zero()
    created_seq: Mapped[int]
    created_us: Mapped[int]
    closed_us: Mapped[int | None]
    last_seq: Mapped[int]


class AuctionBid(Base):
    __tablename__ = "auction_bids"
    __table_args__ = (
        *_positive("price_fen", "quantity_kg"),
        *_non_negative("awarded_kg", "paid_fen", "fee_fen"),
        CheckConstraint(_in("status", BidStatus), name="status_known"),
        Index(None, "auction_id", "seq"),
        Index(None, "account_id", "seq"),
    )

    id: Mapped[str] = mapped_column(primary_key=True)
    auction_id: Mapped[str] = mapped_column(ForeignKey("auctions.id"))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    price_fen: Mapped[int]
    quantity_kg: Mapped[int]
    status: Mapped[str]
    awarded_kg: Mapped[int] = _zero()
    paid_fen: Mapped[int] = _zero()
    fee_fen: Mapped[int] = _zero()
    seq: Mapped[int]
    created_us: Mapped[int]
    last_seq: Mapped[int]


class BlockTrade(Base):
    __tablename__ = "block_trades"
    __table_args__ = (
        *_positive("price_fen", "quantity_kg"),
        *_non_negative("cash_fen", "buyer_fee_fen", "seller_fee_fen"),
        CheckConstraint(
            _in("status", BlockTradeStatus),
            name="status_known",
        ),
        CheckConstraint("buyer_account_id <> seller_account_id", name="two_parties"),
        Index(None, "seller_account_id", "created_seq"),
        Index(None, "buyer_account_id", "created_seq"),
    )

    id: Mapped[str] = mapped_column(primary_key=True)
    symbol: Mapped[str] = mapped_column(ForeignKey("instruments.symbol"))
    seller_account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    buyer_account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"))
    price_fen: Mapped[int]
    quantity_kg: Mapped[int]
    note: Mapped[str]
    status: Mapped[str]
    cash_fen: Mapped[int] = _zero()
    buyer_fee_fen: Mapped[int] = _zero()
    seller_fee_fen: Mapped[int] = _zero()
    created_seq: Mapped[int]
    created_us: Mapped[int]
    decided_us: Mapped[int | None]
    last_seq: Mapped[int]
