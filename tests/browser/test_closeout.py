"""The whole close-out in a real browser: the monitor verifies a casebook, the investigator signs it
with their password, the data manager locks it, the database is locked by two people and formally
unblinded by two people, and the unblinded statistician runs the final analysis."""

from __future__ import annotations

from datetime import date

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_close_out_from_verification_to_the_final_analysis(browse, randomized, coordinator):
    from playwright.sync_api import expect

    from analysis.models import AnalysisRun
    from trial import blinding
    from trial.accounts.users import DEMO_PASSWORD
    from trial.closeout.models import CasebookLock, Signature
    from trial.participants.services import end_of_study_record
    from trial.visits.services import visit_miss

    visit_miss(visit=randomized.visits.get(definition__week=0), reason="Unwell", by=coordinator)
    end_of_study_record(
        participant=randomized, outcome="withdrawn", end_date=date.today(), reason="withdrew consent", by=coordinator
    )
    pid = randomized.participant_id

    monitor = browse("datamanager")
    page = monitor.go(f"/closeout/participants/{pid}/")
    expect(page.locator("#sdv-progress")).to_contain_text("0 of 4")
    monitor.shot("casebook review before verification")
    while page.locator("button.verify").count():
        page.locator("button.verify").first.click()
        expect(page.locator(".messages")).to_contain_text("source verified")
    expect(page.locator("#sdv-progress")).to_contain_text("(100%)")
    monitor.shot("casebook verified")

    investigator = browse("investigator")
    page = investigator.go(f"/closeout/participants/{pid}/sign/")
    expect(page.locator("#sign-form")).to_contain_text("I have reviewed and approve these data")
    page.fill("#id_username", "investigator")
    page.fill("#id_password", "wrong password")
    page.click("#sign-form button[type=submit]")
    expect(page.locator("#sign-form")).to_contain_text("not correct")
    assert not Signature.objects.exists()
    page.fill("#id_username", "investigator")
    page.fill("#id_password", DEMO_PASSWORD)
    investigator.shot("signing with password")
    page.click("#sign-form button[type=submit]")
    expect(page.locator("#lock-banner")).to_contain_text("Signed")
    investigator.shot("signed casebook")

    page = monitor.go(f"/closeout/participants/{pid}/")
    page.click("#lock-casebook")
    expect(page.locator(".messages")).to_contain_text("Casebook locked")
    expect(page.locator("#lock-banner")).to_contain_text("Casebook locked")
    assert CasebookLock.objects.filter(participant=randomized, unlocked_at__isnull=True).exists()
    monitor.shot("casebook locked")

    page = monitor.go("/closeout/")
    page.click("#approve-db-lock")
    expect(page.locator("#lock-banner")).to_contain_text("Database lock pending")
    statistician = browse("unblinded")
    page = statistician.go("/closeout/")
    page.click("#approve-db-lock")
    expect(page.locator("#lock-banner")).to_contain_text("Database locked")
    statistician.shot("database locked")

    page.click("#declare-unblinding")
    expect(page.locator("#unblinding")).to_contain_text("waiting for a second approver")
    page = monitor.go("/closeout/")
    page.click("#approve-unblinding")
    expect(page.locator("#lock-banner")).to_contain_text("Study formally unblinded")
    monitor.shot("formally unblinded")
    assert blinding.study_is_unblinded()

    page = statistician.go("/analysis/request/")
    page.select_option("select[name=kind]", "mmrm_final")
    statistician.shot("final analysis requested")
    page.click("main form button[type=submit]")
    expect(page.locator("h1")).to_contain_text("Final MMRM")
    run = AnalysisRun.objects.get(kind=AnalysisRun.Kind.MMRM_FINAL)
    assert run.unblinded and run.requested_by.username == "unblinded"
    statistician.shot("final analysis run")
