"""The whole experiment in one call: train every stage, evaluate every model, compare them.

One module per job: `plan` (jobs and their configs), `train`, `evaluate` (reports, cached),
`summary` (summary.md), `plots`, and `run` (`run_pipeline`, all of them in order).

`run_pipeline(config, data_dir, run_dir)` trains the stages of `pipeline.stages` (teacher, VEN,
Baseline-2, mimic; occ-aware if listed) and then the variants of `pipeline.variants` (ablations:
another stage run with a few settings changed), each into `RUN_DIR/<name>/`. A job whose
`model.pt` exists is skipped; one with only `checkpoints/last.pt` is resumed, so rerunning an
interrupted pipeline continues where it stopped. The mimic jobs get `mimic.teacher` and
`mimic.ven` pointed at `RUN_DIR/teacher` and `RUN_DIR/ven` (a variant may name another job).

A job's config is, in order: the config file, `pipeline.overrides[<stage>]`, the caller's
`--set` overrides, the variant's `set`, then the paths above. Overrides are dotted keys checked
against the schema of `mimicgait.engine.config`.

Evaluation then scores, on the held-out subjects and with seeded occlusions: the teacher on
holistic data, Baseline-1 (the teacher) / Baseline-2 / mimic (guided, bare student and routed)
under occlusion with occluded and with holistic gallery, the mimic in each mode and both baselines
on holistic data (how much holistic accuracy each keeps), and every variant under the paper's
protocol. Reports of one model share their embedding passes (each sequence is embedded once
holistic and once per occlusion draw).
Reports are cached next to the run: `RUN_DIR/reports/<name>.json` is reused while its settings
match and it is newer than the model it scores. `RUN_DIR/summary.md` holds the comparison tables
with RP = occluded Rank-1 / the teacher's holistic Rank-1.
"""

from mimicgait.pipeline.evaluate import (
    MIMIC_MODES,
    Evaluation,
    eval_subjects,
    evaluate_jobs,
    evaluations,
)
from mimicgait.pipeline.plan import (
    LABELS,
    PIPELINE_ENTRIES,
    Job,
    PipelinePlan,
    check_pipeline_dir,
    expand,
    job_config,
    make_plan,
    plan,
)
from mimicgait.pipeline.plots import plot_reports
from mimicgait.pipeline.run import run_pipeline
from mimicgait.pipeline.summary import summarise
from mimicgait.pipeline.train import BeforeJob, train_jobs

__all__ = [
    "LABELS", "MIMIC_MODES", "PIPELINE_ENTRIES", "BeforeJob", "Evaluation", "Job", "PipelinePlan",
    "check_pipeline_dir", "eval_subjects", "evaluate_jobs", "evaluations", "expand", "job_config",
    "make_plan", "plan",
    "plot_reports", "run_pipeline", "summarise", "train_jobs",
]
