"""The power simulation run: a CRP-enriched follow-up trial, simulated from this trial's by-arm fit.

A run of kind POWER_SIM goes:
1. `power_simulation_request` (the requester's inputs are checked, the run queued on commit);
2. the ordinary run task claims it and calls `power_simulation_fan_out`: it fits the moderation
   model on the by-arm data, stores the assumptions on the run, and sends a Celery chord of chunks;
3. each chunk (`power_simulation_chunk`) simulates and fits its share of trials with the
   Django-free analysis.stats.powersim, and moves the run's progress on;
4. the chord's callback (`power_simulation_finish`) turns the P values into power against sample
   size with Monte Carlo intervals, records the provenance and finishes the run.

The blind: the assumptions are by-arm coefficients, so the run is unblinded (ICH E9 / DSMB
charter) - requested only by whom analysis.services.power_simulation_allowed lets, checked again
in the worker, and visible only to unblinded analysis roles (analysis.selectors).
"""

from __future__ import annotations

from typing import Any

from celery import chord
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Least
from django.utils import timezone

from analysis import frames, provenance
from analysis.models import AnalysisRun
from analysis.services import _stage, analysis_run_request, power_simulation_allowed, sap_by_arm_frame
from analysis.stats import powersim, sap
from analysis.tasks import power_simulation_chunk_task, power_simulation_finish_task
from trial.access import Capability, require
from trial.core.types import Actor

# Limits on what one request may ask of the workers (2 x 1,000 participants is a large follow-up
# trial; 5,000 simulations give a Monte Carlo half-width under 1.4 points of power).
MAX_SIZES = 8
MAX_N_PER_ARM = 1000
MAX_SIMULATIONS = 5000
# Chunks per run: enough to keep several worker processes busy and the progress bar moving.
DEFAULT_CHUNKS = 8
ALPHA = 0.05


def power_simulation_parameters(
    *, sizes: list[int], crp_threshold_mg_l: float, n_sims: int, n_chunks: int = DEFAULT_CHUNKS
) -> dict[str, Any]:
    """The inputs, checked, as the run stores them; a ValidationError says what is wrong."""
    errors: dict[str, str] = {}
    clean_sizes = sorted({int(n) for n in sizes})
    if not clean_sizes or len(clean_sizes) > MAX_SIZES:
        errors["sizes"] = f"Give between 1 and {MAX_SIZES} sample sizes per arm."
    elif clean_sizes[0] < 4 or clean_sizes[-1] > MAX_N_PER_ARM:
        errors["sizes"] = f"Each sample size per arm must be between 4 and {MAX_N_PER_ARM}."
    if not crp_threshold_mg_l >= 0:
        errors["crp_threshold_mg_l"] = "The hs-CRP threshold must be 0 mg/L or more."
    if not 1 <= int(n_sims) <= MAX_SIMULATIONS:
        errors["n_sims"] = f"The number of simulated trials must be between 1 and {MAX_SIMULATIONS}."
    if not 1 <= int(n_chunks) <= 64:
        errors["n_chunks"] = "Between 1 and 64 chunks."
    if errors:
        raise ValidationError(errors)
    return {
        "sizes": clean_sizes,
        "crp_threshold_mg_l": float(crp_threshold_mg_l),
        "n_sims": int(n_sims),
        "n_chunks": int(n_chunks),
        "alpha": ALPHA,
        "analysis_formula": powersim.ANALYSIS_FORMULA,
        "analysis_covariance": powersim.ANALYSIS_COVARIANCE,
        "key_term": powersim.KEY_TERM,
    }


def power_simulation_request(
    *, by: Actor, sizes: list[int], crp_threshold_mg_l: float, n_sims: int, n_chunks: int = DEFAULT_CHUNKS
) -> AnalysisRun:
    """Queue a power simulation (an unblinded run: it is recorded as an unblinding in the access log)."""
    user = require(by, Capability.FINAL_ANALYSIS)
    if not power_simulation_allowed(user):
        raise PermissionDenied("Your role may not run the power simulation: it uses the by-arm model fit.")
    parameters = power_simulation_parameters(
        sizes=sizes, crp_threshold_mg_l=crp_threshold_mg_l, n_sims=n_sims, n_chunks=n_chunks
    )
    return analysis_run_request(kind=AnalysisRun.Kind.POWER_SIM, by=user, parameters=parameters)


def power_simulation_fan_out(run: AnalysisRun) -> AnalysisRun:
    """Fit the moderation model, store the assumptions, and send the chunks (a chord) on commit."""
    from trial.protocol.selectors import protocol

    user = run.requested_by
    # The protocol file's first contrast ([analysis]): with several active arms, the follow-up
    # trial is simulated for that arm against control, from a fit on those two arms only.
    plan = protocol().analysis
    active, control = plan.contrasts[0], plan.control_arm
    params = run.parameters
    _stage(run, "Fitting the moderation model on the by-arm data", 3)
    participants = frames.participants_frame(user=user, include_arm=True)
    labs = frames.labs_long_frame(user=user)
    frame, _crp, _ = sap_by_arm_frame(user, participants, labs)
    frame = frame.loc[frame["arm"].isin([active, control])]
    res, crp = powersim.fit_moderation_model(frame, active=active, control=control)
    model = powersim.PowerModel.from_fit(res, baseline_crp_mg_l=crp.dropna().tolist())
    eligible = model.eligible_crp(params["crp_threshold_mg_l"])  # refuses a threshold nobody passes
    chunks = powersim.plan_chunks(params["sizes"], params["n_sims"], params["n_chunks"])
    run.result = {
        "active": str(active),
        "control": str(control),
        "parameters": params,
        "assumptions": model.to_dict(),
        "moderation_key_test": sap._json_safe(sap.WaldTest.from_result(res, "trt:week:logcrp")),
        "eligible_share": len(eligible) / len(model.baseline_crp_mg_l),
        "chunks": len(chunks),
        "datasets": {"hamd": provenance.frame_csv(frame)},
    }
    run.stage, run.progress = f"Simulating {params['n_sims']} trials per size in {len(chunks)} chunks", 10
    with transaction.atomic():
        current = AnalysisRun.objects.select_for_update().get(pk=run.pk)
        if current.status != AnalysisRun.Status.RUNNING or current.worker != run.worker:
            return current
        run.save(update_fields=["result", "stage", "progress"])
        header = [power_simulation_chunk_task.s(run.pk, n, first, count) for n, first, count in chunks]
        transaction.on_commit(lambda: chord(header)(power_simulation_finish_task.s(run.pk)))
    return run


def power_simulation_chunk(*, run_id: int, n_per_arm: int, first: int, count: int) -> dict[str, Any]:
    """Simulate and fit one chunk; move the run's progress on. Returns the chunk's P values."""
    run = AnalysisRun.objects.get(pk=run_id)
    if run.status != AnalysisRun.Status.RUNNING:
        return powersim.ChunkResult(n_per_arm=n_per_arm, first=first, p_values=()).to_dict()
    params = run.parameters
    result = powersim.simulate_power_chunk(
        powersim.PowerModel.from_dict(run.result["assumptions"]),
        n_per_arm=n_per_arm,
        crp_threshold_mg_l=params["crp_threshold_mg_l"],
        first=first,
        count=count,
        seed=run.seed,
        formula=params["analysis_formula"],
        covariance=params["analysis_covariance"],
        key_term=params["key_term"],
    )
    # Progress from 10 to 90 as chunks finish, in whatever order the workers finish them.
    step = max(1, 80 // max(1, int(run.result.get("chunks", 1))))
    AnalysisRun.objects.filter(pk=run_id, status=AnalysisRun.Status.RUNNING).update(
        progress=Least(F("progress") + step, 90), stage=f"Simulating: chunk of {n_per_arm} per arm done"
    )
    return result.to_dict()


def power_simulation_finish(*, run_id: int, chunk_results: list[dict[str, Any]]) -> AnalysisRun:
    """Aggregate the chunks into power against sample size, record provenance, finish the run."""
    with transaction.atomic():
        run = AnalysisRun.objects.select_for_update().select_related("requested_by").get(pk=run_id)
        if run.status != AnalysisRun.Status.RUNNING:
            return run
        try:
            chunks = [
                powersim.ChunkResult(
                    n_per_arm=int(c["n_per_arm"]), first=int(c["first"]), p_values=tuple(c["p_values"])
                )
                for c in chunk_results
            ]
            table = powersim.power_table(chunks, alpha=float(run.parameters.get("alpha", ALPHA)))
            if int(table["simulated"].sum()) != len(run.parameters["sizes"]) * int(run.parameters["n_sims"]):
                raise RuntimeError("Some chunks returned no simulations: the run was stopped while they ran.")
            result = dict(run.result)
            datasets = result.pop("datasets", {})
            run.provenance = provenance.run_provenance(run=run, datasets=datasets)
            result["power"] = sap._json_safe(table)
            result["datasets"] = datasets
            run.result = result
            run.status = AnalysisRun.Status.DONE
            run.stage, run.progress = "Done", 100
            run.error = ""
        except Exception as exc:  # the run records any failure for the user to see
            run.status = AnalysisRun.Status.FAILED
            run.error = f"{type(exc).__name__}: {exc}"
        run.finished_at = timezone.now()
        run.save()
    return run


def power_simulation_chunk_failed(*, run_id: int, error: str) -> None:
    """A chunk raised: fail the run with the reason, so it is never left running."""
    with transaction.atomic():
        run = AnalysisRun.objects.select_for_update().get(pk=run_id)
        if run.status == AnalysisRun.Status.RUNNING:
            run.status = AnalysisRun.Status.FAILED
            run.error = f"A simulation chunk failed: {error}"
            run.finished_at = timezone.now()
            run.save(update_fields=["status", "error", "finished_at"])
