"""Registry and clearing house: accounts, cash, lots of allowances with their
provenance, order holds, delivery versus payment, projects, reallocations and the
provincial ledger. Pure and deterministic like the matching engine: no I/O, no
clock, no randomness; imports the standard library and matching_engine only.

The single-writer core drives one `registry.Registry`:

    reg.handle(cmd)                      settlement.commands.* -> [settlement.events.*]
    reg.check_order(...), check_amend()  before an order or amendment reaches the engine
                                         (a buy that can trade at once: + rounding reserve)
    reg.apply_engine_events(events, reserves)  what the engine emitted -> [settlement.events.*]
    reg.take_shortfalls()                buy orders to shrink or cancel (core-issued)

A refusal raises `errors.SettlementError(code, message)` and changes nothing.
`reports.monthly_city_report` builds the monthly city report from `LedgerMoved`
events alone (the service writes it out as CSV).
"""
