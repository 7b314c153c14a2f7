"""SDTM AE from the AE coding, and EX doses from the pharmacy's preparation records: read back with
pyreadstat and compared with the database and the protocol file, not with the writer's own logic."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pyreadstat
import pytest
from lxml import etree

from tests.conftest import PROTOCOL_FILES
from tests.trial.exports.test_formats import DEFINE_XSD

ODM = "{http://www.cdisc.org/ns/odm/v1.3}"
DEF = "{http://www.cdisc.org/ns/def/v2.0}"


def _xpt(files: dict[str, bytes], name: str, tmp_path: Path) -> tuple[pd.DataFrame, Any]:
    path = tmp_path / name
    path.write_bytes(files[name])
    return pyreadstat.read_xport(str(path))


def _ae(participant: Any, coordinator: Any, term: str) -> Any:
    from trial.safety.services import adverse_event_record

    return adverse_event_record(
        participant=participant,
        by=coordinator,
        data={
            "term": term,
            "onset_date": date.today(),
            "end_date": date.today(),
            "severity": "mild",
            "relatedness": "possible",
            "outcome": "recovered",
        },
    )


def test_ae_takes_llt_pt_and_soc_from_the_coding_and_leaves_an_uncoded_event_empty(
    randomized: Any, users: Any, bundle_files: Any, tmp_path: Path
) -> None:
    from trial.safety.services import adverse_event_code

    coordinator = users["coordinator"]
    _ae(randomized, coordinator, "Headaches")  # an LLT of the dictionary: coded on save
    odd = _ae(randomized, coordinator, "Felt odd all afternoon")  # no LLT: left for the data manager
    queasy = _ae(randomized, coordinator, "Queasy after infusion")
    adverse_event_code(
        adverse_event=queasy,
        llt="Nausea",
        reason="verbatim means nausea",
        by=users["datamanager"],
        version=queasy.version,
    )
    assert odd.coding == "uncoded"

    files = bundle_files("datamanager", "sdtm")
    ae, meta = _xpt(files, "ae.xpt", tmp_path)
    rows = {r.AETERM: (r.AELLT, r.AEDECOD, r.AEBODSYS) for r in ae.itertuples()}
    assert rows == {
        "Headaches": ("Headaches", "Headache", "Nervous system disorders"),
        "Felt odd all afternoon": ("", "", ""),
        "Queasy after infusion": ("Nausea", "Nausea", "Gastrointestinal disorders"),
    }
    labels = meta.column_names_to_labels
    assert labels["AELLT"] == "Lowest Level Term" and labels["AEDECOD"] == "Dictionary-Derived Term"
    assert labels["AEBODSYS"] == "Body System or Organ Class"

    define = etree.fromstring(files["define.xml"])
    schema = etree.XMLSchema(etree.parse(str(DEFINE_XSD), etree.XMLParser(no_network=True, resolve_entities=False)))
    assert schema.validate(define), schema.error_log
    for name in ("AELLT", "AEDECOD", "AEBODSYS"):
        item = define.find(f".//{ODM}ItemDef[@OID='IT.AE.{name}']")
        assert item is not None and item.find(f"{DEF}Origin").get("Type") == "Assigned"
        oid = item.find(f"{ODM}CodeListRef").get("CodeListOID")
        dictionary = define.find(f".//{ODM}CodeList[@OID='{oid}']/{ODM}ExternalCodeList")
        assert dictionary is not None and "AE dictionary" in dictionary.get("Dictionary")
        assert dictionary.get("Version").startswith("sha256:")
    assert define.find(f".//{ODM}ItemDef[@OID='IT.AE.AETERM']/{DEF}Origin").get("Type") == "CRF"


def _prepared_dose(visit_pk: int) -> int:
    """The test's truth: the bag the pharmacy made for the visit (dispensed first, never a wasted one)."""
    from trial.pharmacy.models import Preparation

    bags = Preparation.objects.active().filter(visit_id=visit_pk).exclude(status="wasted")
    return bags.order_by("-dispensed_at").values_list("dose_mg", flat=True).first()  # type: ignore[return-value]


@pytest.mark.parametrize("protocol_file", PROTOCOL_FILES, indirect=True)
def test_ex_gives_the_dose_the_pharmacy_prepared_with_the_arm_and_masks_it_without(
    trial_world: Any, users: Any, bundle_files: Any, tmp_path: Path
) -> None:
    from trial.protocol.selectors import protocol
    from trial.visits.models import Infusion, arm_dose_mg

    config = protocol()
    # One active bag made for another weight than the infusion form's (the pharmacy weighed on the
    # day): EX must follow the pharmacy's record, not a dose recomputed from the form.
    from trial.core.services import record_apply, record_save
    from trial.pharmacy.models import Preparation

    first = next(p for p in trial_world.preparations if config.arm(trial_world.arms[p.visit.participant_id]).active)
    bag = Preparation.objects.get(pk=first.pk)
    changed = {"dose_mg": bag.dose_mg + 100, "vials": bag.vials + 1, "weight_kg": bag.weight_kg + 20}
    bag = record_save(
        record_apply(bag, changed, version=bag.version), by=users["pharmacist"], reason="Weighed on the day"
    )
    unblinded = bundle_files("unblinded", "sdtm", include_arm=True)
    ex, _ = _xpt(unblinded, "ex.xpt", tmp_path)
    prefix = f"{config.code}-"  # USUBJID is STUDYID-SUBJID
    given = {(r.USUBJID.removeprefix(prefix), int(r.VISITNUM)): (r.EXTRT, r.EXDOSE, r.EXDOSU) for r in ex.itertuples()}
    infusions = Infusion.objects.active().select_related("visit__participant", "visit__definition")
    assert len(given) == infusions.count() > 0
    lower_dose_seen = False
    for inf in infusions:
        p = inf.visit.participant
        arm = config.arm(trial_world.arms[p.pk])
        extrt, exdose, exdosu = given[(p.participant_id, inf.visit.definition.week)]
        assert extrt == arm.label and exdosu == "mg"
        if not arm.active:
            assert exdose == 0.0  # a placebo bag holds no drug, whatever volume it is matched to
            continue
        assert exdose == _prepared_dose(inf.visit_id)
        if inf.visit_id == bag.visit_id:
            assert exdose == bag.dose_mg != arm_dose_mg(arm, float(inf.weight_kg))
            continue
        assert exdose == arm_dose_mg(arm, float(inf.weight_kg))
        if exdose != inf.planned_dose_mg:
            # A lower active dose (5 mg/kg) in a bag matched to the highest (10 mg/kg): the infusion
            # form's planned dose is the matched one, the pharmacy's record the one given.
            lower_dose_seen = True
    several_doses = len({a.dose_mg_per_kg for a in config.arms if a.active}) > 1
    assert lower_dose_seen == several_doses

    for username, kwargs in (("statistician", {}), ("unblinded", {})):
        masked = bundle_files(username, "sdtm", **kwargs)
        ex, _ = _xpt(masked, "ex.xpt", tmp_path)
        assert set(ex.EXTRT) == {"BLINDED"} and ex.EXDOSE.isna().all(), username
        assert "pharm" not in str(masked["manifest.json"])
    assert '"code": "pharm"' in unblinded["manifest.json"].decode()
