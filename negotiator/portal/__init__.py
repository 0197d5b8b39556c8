"""The portal: an outside person plays their seat through an invite link.

The link's secret is the only credential (no login, no session); every request
is rate-limited per address and per link and recorded on the credential and in
the audit trail; moves go through the same service as every outside move
(negotiator.services.seats.seat_move_submit)."""
