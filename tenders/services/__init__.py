"""Writes for tenders, by capability: setup (templates, suppliers), lifecycle
(create, start, transitions), rounds (bidding), checks (policies on bids),
screening, award (the decision and the approval gate), final (the bilateral
negotiation with the winner) and redteam."""
