"""The A2A door: outside agents negotiate with us over the Agent2Agent protocol
(JSON-RPC binding, protocol 1.0), and we call a supplier's own A2A agent when its
seat is set up that way. Thin: validate, authenticate the seat, call one service
(``negotiator.services.seats``). Nothing in negotiator's core imports this package;
it plugs in through its URLs and ``seat_notifier_register`` (see apps.py)."""
