"""Writes, by capability. Each module owns one capability and opens with what it
owns; functions are ``<entity>_<action>(*, ...)`` with keyword-only arguments and
own their transaction. Views, tasks, commands and the approvals app call these;
nothing else changes negotiation, playbook or policy rows.

- errors: the exceptions every service raises
- roles: permission groups and how a user is named in the audit trail
- workers: worker heartbeats
- playbooks / policies: configuration and its immutable versions
- lifecycle: a negotiation's status changes (create, start, resume, close, reopen)
- rounds: one round as a pipeline; round_records builds its rows
- agreements: what happens when the parties agree (the approval gate)
- plans: the final plan and deal measures
- scheduling: enqueueing follow-up work (the only way services reach Celery)
- sweeper: recovery of negotiations that stopped making progress
- worker_cache: rows and engine setups a worker keeps between rounds
- teams: giving negotiations without a team their playbook's team
"""
