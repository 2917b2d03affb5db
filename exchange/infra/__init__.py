"""What the core needs from the outside world: the sequencer that feeds it, the
hash-chained journal, snapshots, the projector that writes read models, the database
(models, migrations) and the buses (in-process or Redis).

Imports exchange.core and exchange.config, never exchange.edge.
"""
