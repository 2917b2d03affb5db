"""The feed and memory benchmarks, small: each runs end to end against a real `emx serve`
and loses nothing. Neither their speed nor their memory figures are checked."""

from __future__ import annotations

from bench.feed import main as feed
from bench.memory import main as memory


def test_the_feed_benchmark_delivers_every_trade_to_every_subscriber_without_gaps():
    result = feed(subscribers=30, processes=2, trades=5, rate_per_s=10.0)
    assert result["deliveries"] == result["deliveries_expected"] == 150
    # a round is a book delta (the resting sell), then the trade, a book delta and the
    # ticker; a subscriber stops reading at its last trade, before that round's last two
    assert result["messages"] == 30 * (5 * 4 - 2)
    assert result["gaps"] == 0
    assert len(result["client_busy"]) == 2


def test_the_memory_benchmark_acks_journals_and_cancels_every_order():
    result = memory(accounts=10, orders=120, cycles=2, connections=2, window=8)
    assert result["errors"] == {}
    assert result["acked"] == result["placed"] == 240
    assert result["journaled_by_metrics"] == 240
    assert result["cancelled"] == 240
    assert result["left_open_after_each_cycle"] == [0, 0]
    assert len(result["rss_after_each_cycle"]) == 2
    assert result["rss_start"] > 0
