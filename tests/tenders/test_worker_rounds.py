"""Reverse English rounds run in a real Celery worker, one task per round."""

from __future__ import annotations

import pytest

from tenders.models import Tender, TenderStatus
from tests.conftest import celery_worker, wait_for
from tests.tenders.conftest import tender_document

pytestmark = pytest.mark.worker


def test_a_worker_plays_every_round_and_awards_the_tender(worker_env, tmp_path):
    from approvals.models import ApprovalRoute
    from negotiator.services.roles import roles_ensure
    from tenders.services.lifecycle import tender_create
    from tenders.services.setup import tender_playbook_import

    roles_ensure()
    ApprovalRoute.objects.create(name="auto", condition_kind="always", decision="auto")
    template = tender_playbook_import(tender_document())
    with celery_worker(tmp_path, worker_env) as worker:
        tender = tender_create(template=template, seed=1, overrides={"pace_seconds": 0.05})
        done = wait_for(
            lambda: (
                Tender.objects.exclude(status=TenderStatus.RUNNING).filter(pk=tender.pk).first()
            ),
            timeout=120,
        )
        log = worker.log()
    assert done.status == TenderStatus.AWARDED, done.award_reason
    assert done.round >= 15  # 900 logical seconds of 60-second rounds, and more if extended
    assert done.bids.count() > 5
    assert log.count("tenders.tasks.run_tender_round") >= done.round
