"""Reference values of sed_eval's segment-based metrics for stored segment activities.

Writes ``sed_eval_segment_reference.json`` (read by tests/evaluation/test_eval_segment_sed_eval.py).
sed_eval is not an instrec dependency (it pulls in dcase_util); run this in an environment that
has it::

    python -m venv /tmp/sed && /tmp/sed/bin/pip install sed_eval numpy
    /tmp/sed/bin/python tests/evaluation/data/make_sed_eval_reference.py \
        tests/evaluation/data/sed_eval_segment_reference.json
"""
import json, sys
import numpy as np
import sed_eval, dcase_util

rng = np.random.default_rng(15)
cases = []
for name, n_seg, n_cls in (("random", 40, 5), ("sparse", 30, 4)):
    ref = (rng.random((n_seg, n_cls)) < 0.35).astype(int)
    est = np.where(rng.random((n_seg, n_cls)) < 0.8, ref, 1 - ref)
    # class 1: false positives only (no reference); class 2: reference only (never predicted)
    ref[:, 1] = 0; est[:5, 1] = 1; est[5:, 1] = 0
    est[:, 2] = 0; ref[3:9, 2] = 1
    cases.append((name, ref, est))
# every class present and predicted: the class-wise average counts them all
ref = (rng.random((25, 3)) < 0.5).astype(int); ref[0] = 1
est = np.where(rng.random((25, 3)) < 0.7, ref, 1 - ref); est[1] = 1
cases.append(("all-defined", ref, est))
out = {"sed_eval_version": sed_eval.__version__, "time_resolution": 1.0, "cases": []}
for name, ref, est in cases:
    classes = [f"c{c}" for c in range(ref.shape[1])]
    def events(m):
        return dcase_util.containers.MetaDataContainer([
            {"filename": "f.wav", "event_label": classes[c], "onset": float(i), "offset": float(i + 1)}
            for i, c in zip(*np.nonzero(m))])
    metrics = sed_eval.sound_event.SegmentBasedMetrics(event_label_list=classes, time_resolution=1.0)
    metrics.evaluate(reference_event_list=events(ref), estimated_event_list=events(est))
    overall = metrics.results_overall_metrics()
    avg = metrics.results_class_wise_average_metrics()
    cw = metrics.results_class_wise_metrics()
    nan = lambda v: None if v is None or v != v else float(v)
    out["cases"].append({
        "name": name, "reference": ref.tolist(), "estimated": est.tolist(),
        "f1_micro": nan(overall["f_measure"]["f_measure"]), "precision_micro": nan(overall["f_measure"]["precision"]),
        "recall_micro": nan(overall["f_measure"]["recall"]), "error_rate": nan(overall["error_rate"]["error_rate"]),
        "substitution_rate": nan(overall["error_rate"]["substitution_rate"]),
        "deletion_rate": nan(overall["error_rate"]["deletion_rate"]),
        "insertion_rate": nan(overall["error_rate"]["insertion_rate"]),
        "f1_macro": nan(avg["f_measure"]["f_measure"]),
        "f1_per_class": [nan(cw[c]["f_measure"]["f_measure"]) for c in classes],
    })
json.dump(out, open(sys.argv[1], "w"), indent=1)
print(json.dumps([(c["name"], c["f1_macro"], c["f1_per_class"]) for c in out["cases"]]))
