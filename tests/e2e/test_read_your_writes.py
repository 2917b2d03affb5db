"""The read models are written behind the journal commit; an answer to a write names
its journal seq (X-Emx-Seq), and any read made after that answer, by the same caller
or another, shows it."""

from __future__ import annotations

from tests.e2e.helpers import Exchange, ok


def test_a_write_answer_names_its_seq_and_reads_after_it_show_it(exchange: Exchange):
    symbol = exchange.new_instrument()
    seller = exchange.seller(symbol, "5.000")
    buyer = exchange.new_enterprise()
    seqs = []
    for n in range(20):
        placed = seller.order(symbol, "sell", "0.001", f"{100 + n % 5}.00")
        assert placed.status_code == 201, placed.text
        seqs.append(int(placed.headers["x-emx-seq"]))
        order_id = placed.json()["id"]
        # the same caller at once
        assert ok(seller.get(f"/orders/{order_id}"), 200)["status"] == "open"
        # another caller at once: the public book shows the level
        book = exchange.book(symbol)
        assert any(level[0] == f"{100 + n % 5}.00" for level in book["asks"]), book
    assert seqs == sorted(seqs) and len(set(seqs)) == 20
    bought = buyer.order(symbol, "buy", "0.001", "104.00")
    assert bought.status_code == 201 and int(bought.headers["x-emx-seq"]) > seqs[-1]
    assert ok(buyer.get("/trades"), 200)["items"], "the buyer's trade shows at once"
    # a read answers with no seq of its own
    assert "x-emx-seq" not in exchange.client.get("/api/v1/instruments").headers
