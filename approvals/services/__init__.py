"""Writes for the approval gate, by capability. Each function is
<entity>_<action>(*, ...) with keyword-only arguments. Lock order everywhere: the
request row, then the negotiation row.

- gate: which agreements need a person, and opening a request (the gate the
  negotiation side calls through negotiator.agreement_hooks)
- requests: the one place an approval request's status changes
- decisions: a person's decision and what it implies
- constraints: constraints an approver adds when requesting changes
- delegations: an approver hands their decisions to a colleague for a period
- expiry: the periodic job: expiry by the route's rule, reminders, notices
- notices: mails to approvers
- errors: the exceptions, mapped to 400/403/409 by type
"""
