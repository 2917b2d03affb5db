"""The single-writer core: pre-trade holds → matching engine → settlement → events.

Pure and deterministic like the packages it drives: it is given `seq` and
`ts_us` with every command and never reads a clock, so replaying the journal
reproduces its state hash exactly.
"""
