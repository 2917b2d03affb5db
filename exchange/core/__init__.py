"""The single-writer core: typed commands and their journal codec, pre-trade holds →
matching engine → settlement → events, surveillance, and the public shape of what it
produces (views, feed messages, units, tables).

Pure and deterministic like the packages it drives: it is given `seq` and
`ts_us` with every command and never reads a clock, so replaying the journal
reproduces its state hash exactly. It imports settlement and the matching engine,
never exchange.infra or exchange.edge.
"""
