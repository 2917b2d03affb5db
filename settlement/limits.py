"""How large a number the registry holds, and the ceilings of single requests.

Balances are stored as 64-bit integers (PostgreSQL BIGINT, SQLite INTEGER): at most
2^63 - 1 fen or kg. The registry keeps every balance at or below BALANCE_LIMIT = 2^62,
which leaves room for any sum of two balances, by refusing (`balance_limit`) the only
commands that bring cash or allowances into it:

- cash is conserved once deposited (trades and fees move it between accounts), so the
  total deposited less withdrawn bounds every cash balance, lock and trade amount;
- allowances are conserved once issued (trades, transfers and allocations move
  them), so the total issued per symbol bounds every holding and every city's
  added and used quota.

An order's filled value (Σ price × kg) and a session's traded value are bounded in the
core with the price ceiling (exchange/core/state.py).
"""

from __future__ import annotations

BALANCE_LIMIT = 2**62

KG_PER_TONNE = 1_000
FEN_PER_YUAN = 100
MAX_ORDER_KG = 1_000_000 * KG_PER_TONNE
"""An order's quantity: at most 1,000,000 t."""
MAX_REGISTRY_KG = 10_000_000 * KG_PER_TONNE
"""A claim, approval, allocation, reallocation, floor or reserve release: at most 10,000,000 t."""
MAX_DEPOSIT_FEN = 1_000_000_000_000 * FEN_PER_YUAN
"""One deposit or withdrawal: at most 1,000,000,000,000.00 CNY."""
MAX_PRICE_FEN = 10_000_000 * FEN_PER_YUAN
"""A price per tonne: at most 10,000,000.00 CNY, so price × quantity of an order stays
at most 10^18 (fen × kg) and its filled value fits."""
