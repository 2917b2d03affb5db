"""What clients talk to: the REST routes (api/), the WebSocket feeds and order entry,
sessions and logins, throttling, transport limits, metrics and downloads.

Imports exchange.core and exchange.infra; nothing below imports it back.
"""
