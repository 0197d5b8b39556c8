"""Reads for views, tasks and the API, by capability. Every function returns plain
values shaped for a template or a document and applies the privacy rule: a party's
private profile, its utilities and check evidence marked private reach only people
allowed to see that party (negotiator.permissions.may_see_private).

- formatting: issue labels, units and term values as people read them
- lists: the negotiation list and the home page
- negotiations: one negotiation's page: parties, offer timeline, live poll
- charts: the concession and outcome charts (server-rendered SVG coordinates)
- audit: the audit trail with the privacy rule applied to payloads, and its export
- health: worker liveness
- visibility: the team rule (negotiator.permissions) as querysets; every read of
  a negotiation for a person starts from negotiations_visible_to(user)

Query counts do not grow with rows: related rows are fetched per page in one
query each (tests/negotiator/test_query_counts.py holds this).
"""
