"""The fit/validate loop: AdamW, ReduceLROnPlateau, early stopping, checkpoints and resume.

:func:`train` is the whole job (store -> run directory); :func:`fit` is the epoch loop over
ready-made loaders, and :func:`train_one_epoch` / :func:`evaluate` are its two halves.
After every epoch ``last.pt`` holds everything needed to continue (model, optimizer,
scheduler, RNG states, sampler state, early-stopping counters, history), so a crashed run
resumed with ``resume=True`` ends exactly where an uninterrupted one would (on CPU).
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from training.augment import Augmenter
from training.device import resolve_device
from training.losses import MaskedLoss
from training.run import (
    RunError, finite_or_none, load_checkpoint, model_checkpoint, rng_state, save_checkpoint, set_rng_state,
    write_atomically,
)
from training.run_files import (
    CLASSES_FILE, CONFIG_FILE, FEATURES_FILE, LAST_FILE, LOSS_CURVE_FILE, METRICS_FILE, MODEL_FILE, STORE_FILE,
    TRAINING_DATA_FILE,
)
from training.validation import score_predictions

if TYPE_CHECKING:
    from storage.store import FeatureSetReader, FeatureStore, TrackEntry
    from training.config import TrainConfig
    from training.data import LabelStatistics, TrackReader, WindowDataset
    from training.remix import RemixDataset, RemixSampler
    from training.sampler import RandomWindowSampler

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _to_device(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device, non_blocking=True) for k, v in batch.items()}


def _autocast(device: torch.device, amp: bool):
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=amp and device.type == "cuda")


def train_one_epoch(model: nn.Module, loader: Any, *, optimizer: torch.optim.Optimizer, loss_fn: MaskedLoss,
                    augment: Augmenter, device: torch.device, amp: bool = True, grad_clip: float = 0.0,
                    max_steps: int | None = None, progress: bool = False, desc: str = "train") -> dict[str, float]:
    """One pass over ``loader``; returns ``{"train_loss", "frames_per_s"}``."""
    model.train()
    total, steps, frames = torch.zeros((), device=device), 0, 0
    start = time.perf_counter()
    bar = tqdm(loader, desc=desc, disable=not progress, leave=False, total=max_steps or len(loader))
    for batch in bar:
        batch = augment(_to_device(batch, device))
        with _autocast(device, amp):
            output = model(batch["features"], batch["frame_mask"])
        loss = loss_fn(output, batch)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        optimizer.step()
        total, steps = total + loss.detach(), steps + 1  # no host sync per step
        frames += int(batch["features"].shape[0] * batch["features"].shape[1])
        if progress and steps % 20 == 1:
            bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
        if max_steps is not None and steps >= max_steps:
            break
    mean_loss = float(total) / max(steps, 1)
    elapsed = time.perf_counter() - start
    return {"train_loss": mean_loss, "frames_per_s": frames / elapsed if elapsed > 0 else float("nan")}


@torch.no_grad()
def evaluate(model: nn.Module, loader: Any, *, loss_fn: MaskedLoss, device: torch.device,
             amp: bool = True) -> dict[str, float]:
    """Validation loss and scores: frame-level ``f1`` / ``map`` and clip-level ``clip_f1`` / ``clip_map``."""
    model.eval()
    total, steps = 0.0, 0
    frame_parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    clip_parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for batch in loader:
        batch = _to_device(batch, device)
        with _autocast(device, amp):
            output = model(batch["features"], batch["frame_mask"])
        total += float(loss_fn(output, batch))
        steps += 1
        real = batch["frame_mask"]
        frame_parts.append(tuple(t[real].float().cpu().numpy() for t in (
            torch.sigmoid(output["frame"].float()), batch["labels"], batch["label_mask"])))
        clip_parts.append(tuple(t.float().cpu().numpy() for t in (
            torch.sigmoid(output["clip"].float()), batch["clip"], batch["clip_mask"])))
    metrics = {"val_loss": total / steps if steps else float("nan")}
    for parts, prefix in ((frame_parts, ""), (clip_parts, "clip_")):
        if parts:
            probs, targets, mask = (np.concatenate(p) for p in zip(*parts))
            metrics.update(score_predictions(probs, targets, mask.astype(bool), prefix=prefix))
        else:
            metrics.update({f"{prefix}f1": float("nan"), f"{prefix}map": float("nan")})
    return metrics


def monitored_score(metrics: dict[str, float], monitor: str) -> float:
    """The score to maximise: the frame-level metric, else the clip-level one (weak labels),
    else minus the validation (or training) loss."""
    for key in (monitor, f"clip_{monitor}"):
        value = metrics.get(key, float("nan"))
        if value is not None and math.isfinite(value):
            return float(value)
    loss = metrics.get("val_loss", float("nan"))
    if loss is None or not math.isfinite(loss):
        loss = metrics["train_loss"]
    return -float(loss)


@dataclass
class FitState:
    """What survives between epochs (and in ``last.pt``)."""

    epoch: int = 0
    best_score: float = -math.inf
    best_epoch: int = 0
    stale_epochs: int = 0
    history: list[dict[str, Any]] | None = None


def fit(model: nn.Module, *, train_loader: Any, val_loader: Any | None, loss_fn: MaskedLoss, config: TrainConfig,
        run_dir: Path, device: torch.device, model_meta: dict[str, Any], resume: bool = False,
        on_epoch_end: Callable[[dict[str, Any]], None] | None = None) -> list[dict[str, Any]]:
    """Train until ``config.epochs`` or early stopping; returns the per-epoch history.

    Writes ``model.pt`` (best score so far), ``last.pt`` (resume state) and
    ``metrics.jsonl`` into ``run_dir``.  With ``resume=True`` the state in ``last.pt``
    is restored first.  ``on_epoch_end(record)`` is called after each epoch is saved.
    """
    model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimizer, mode="max", factor=config.lr_factor, patience=config.lr_patience)
    augment = Augmenter(config.augment)
    loss_fn = loss_fn.to(device)
    sampler = train_loader.sampler
    state = FitState(history=[])
    if resume:
        checkpoint = load_checkpoint(run_dir / LAST_FILE)
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        scheduler.load_state_dict(checkpoint["scheduler"])
        sampler.load_state_dict(checkpoint["sampler"])
        state = FitState(**checkpoint["fit_state"])
        set_rng_state(checkpoint["rng"])
        log.info("resuming %s after epoch %d (best %s at epoch %d)", run_dir, state.epoch,
                 f"{state.best_score:.4f}", state.best_epoch)
    _write_history(run_dir, state.history)
    try:
        _run_epochs(model, state, train_loader=train_loader, val_loader=val_loader, loss_fn=loss_fn,
                    config=config, run_dir=run_dir, device=device, model_meta=model_meta,
                    optimizer=optimizer, scheduler=scheduler, augment=augment, on_epoch_end=on_epoch_end)
    finally:  # the curve is drawn once, also after a crash or an interrupt
        if state.history:
            try:
                plot_loss_curve(state.history, run_dir / LOSS_CURVE_FILE)
            except RunError as exc:  # a full disk: the weights matter, the figure does not
                log.warning("loss curve not drawn: %s", exc)
    return state.history


def _run_epochs(model: nn.Module, state: FitState, *, train_loader: Any, val_loader: Any | None,
                loss_fn: MaskedLoss, config: TrainConfig, run_dir: Path, device: torch.device,
                model_meta: dict[str, Any], optimizer: torch.optim.Optimizer, scheduler: Any,
                augment: Augmenter, on_epoch_end: Callable[[dict[str, Any]], None] | None) -> None:
    sampler = train_loader.sampler
    while state.epoch < config.epochs and state.stale_epochs < config.patience:
        epoch = state.epoch + 1
        sampler.set_epoch(epoch)
        record: dict[str, Any] = {"epoch": epoch, "lr": optimizer.param_groups[0]["lr"]}
        record.update(train_one_epoch(
            model, train_loader, optimizer=optimizer, loss_fn=loss_fn, augment=augment, device=device,
            amp=config.amp, grad_clip=config.grad_clip, max_steps=config.steps_per_epoch,
            progress=config.progress, desc=f"epoch {epoch}/{config.epochs}"))
        if val_loader is not None:
            record.update(evaluate(model, val_loader, loss_fn=loss_fn, device=device, amp=config.amp))
        score = monitored_score(record, config.monitor)
        record["score"] = score
        scheduler.step(score)
        if score > state.best_score:
            state.best_score, state.best_epoch, state.stale_epochs = score, epoch, 0
            save_checkpoint(run_dir / MODEL_FILE, model_checkpoint(model, epoch=epoch, score=score, **model_meta))
        else:
            state.stale_epochs += 1
        state.epoch = epoch
        record = {k: finite_or_none(v) if isinstance(v, float) else v for k, v in record.items()}
        state.history.append(record)
        save_checkpoint(run_dir / LAST_FILE, {
            "model": model.state_dict(), "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(), "sampler": sampler.state_dict(),
            "fit_state": vars(state), "rng": rng_state(),
        })
        _write_history(run_dir, state.history)
        log.info("epoch %d: %s", epoch, ", ".join(
            f"{k}={v:.4g}" for k, v in record.items() if isinstance(v, float) and k != "lr"))
        if on_epoch_end is not None:
            on_epoch_end(record)
    if state.stale_epochs >= config.patience:
        log.info("early stop after epoch %d: no improvement for %d epochs (best epoch %d)",
                 state.epoch, state.stale_epochs, state.best_epoch)


def _write_history(run_dir: Path, history: list[dict[str, Any]]) -> None:
    (run_dir / METRICS_FILE).write_text("".join(json.dumps(r) + "\n" for r in history))


def plot_loss_curve(history: list[dict[str, Any]], path: Path) -> None:
    """Training and validation loss per epoch as a PNG (matplotlib Agg, no global state)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    epochs = [r["epoch"] for r in history]
    for key, label in (("train_loss", "training"), ("val_loss", "validation")):
        values = [r.get(key) for r in history]
        if any(v is not None for v in values):
            axes.plot(epochs, [np.nan if v is None else v for v in values], marker="o", label=label)
    axes.set_xlabel("epoch")
    axes.set_ylabel("masked BCE loss")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    write_atomically(path, lambda tmp: figure.savefig(tmp, dpi=100, format="png"))


def training_priors(stats: LabelStatistics, classes: list[str], dominants: list[str | None]) -> dict[str, Any]:
    """The training statistics a prior/majority baseline is built from (``training_data.json``).

    Parameters
    ----------
    stats : LabelStatistics
        Known positive / negative frame label counts of the training tracks.
    classes : list of str
    dominants : list of (str or None)
        Dominant instrument of each training track (None: unknown).

    Returns
    -------
    dict
        ``frame_positive`` and ``frame_known`` (known frame labels) per class,
        ``frame_prior`` = positive / known (None for a class never known), and
        ``dominant_counts``: training tracks per dominant instrument.
    """
    known = stats.frame_positive + stats.frame_negative
    prior = [float(p) / k if k else None for p, k in zip(stats.frame_positive.tolist(), known.tolist())]
    counts: dict[str, int] = {}
    for name in dominants:
        if name is not None:
            counts[name] = counts.get(name, 0) + 1
    return {
        "frame_positive": dict(zip(classes, stats.frame_positive.tolist())),
        "frame_known": dict(zip(classes, known.tolist())),
        "frame_prior": dict(zip(classes, prior)),
        "dominant_counts": dict(sorted(counts.items())),
    }


def prepare_run_dir(config: TrainConfig, *, resume: bool) -> Path:
    """Create ``config.out`` for a new run, or check it matches ``config`` when resuming."""
    from training.config import TrainConfig

    run_dir = Path(config.out)
    if resume:
        if not (run_dir / LAST_FILE).exists():
            raise RunError(f"{run_dir / LAST_FILE}: nothing to resume; train without --resume first")
        saved = TrainConfig.from_json(json.loads((run_dir / CONFIG_FILE).read_text()))
        changed = config.resumable_from(saved)
        if changed:
            raise RunError(f"{run_dir / CONFIG_FILE}: cannot resume with changed settings {changed}; "
                           "use the original settings or a new --out directory")
    elif (run_dir / LAST_FILE).exists() or (run_dir / MODEL_FILE).exists():
        raise RunError(f"{run_dir}: already holds a training run; pass --resume to continue it "
                       "or choose another --out directory")
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def train(config: TrainConfig, *, store: FeatureStore | None = None, resume: bool = False,
          on_epoch_end: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """Train ``config.model`` on ``config.features`` of the store; returns the run directory.

    The run directory is locked for the whole run as a store is for a writer
    (:class:`storage.locking.StoreLock`, ``RUN/.lock``): a second ``train`` into the same
    ``config.out`` fails at once naming the holder, instead of mixing two runs' files.

    Parameters
    ----------
    config : TrainConfig
    store : FeatureStore, optional
        An open store; by default ``storage.open_store(config.store)`` read-only.
    resume : bool
        Continue the run in ``config.out`` from its last checkpoint.
    on_epoch_end : callable, optional
        Called with each epoch's metrics record.
    """
    from storage.layout import resolve
    from storage.locking import StoreLock

    activity = "another `instrec train` is writing this run directory"
    try:
        # No age limit: a run directory is local, and a killed holder's lock is taken over by its pid.
        lock = StoreLock(resolve(config.out), stale_after_s=math.inf, activity=activity).acquire()
    except OSError as exc:
        raise RunError(f"{config.out}: cannot create the run directory ({exc.strerror or exc}); choose a "
                       "writable --out") from None
    try:
        return _train(config, store=store, resume=resume, on_epoch_end=on_epoch_end)
    finally:
        lock.release()


def _train(config: TrainConfig, *, store: FeatureStore | None, resume: bool,
           on_epoch_end: Callable[[dict[str, Any]], None] | None) -> Path:
    """:func:`train` once the run directory is locked."""
    from training.blocks import Standardized
    from training.data import WindowDataset, default_workers, feature_statistics, label_statistics, make_loader
    from training.registry import build_model
    from training.run import describe_features, write_json
    from training.sampler import RandomWindowSampler, SequentialWindowSampler, rare_class_repeats

    if store is None:
        from storage.store import open_store

        store = open_store(config.store, mode="r", storage_options=dict(config.storage_options) or None,
                           snapshot=config.snapshot)
    reader = store.feature_set(config.features)
    run_dir = prepare_run_dir(config, resume=resume)
    if resume and (run_dir / STORE_FILE).exists():
        started = json.loads((run_dir / STORE_FILE).read_text()).get("snapshot_id")
        if started != store.snapshot_id:
            raise RunError(f"{run_dir / STORE_FILE}: the run started on store snapshot {started} but "
                           f"{store.url} is now at {store.snapshot_id}; resuming would train on other "
                           f"data: resume with --snapshot {started}, or start a new run with another --out directory")
    device = resolve_device(config.device)
    seed_everything(config.seed)
    train_tracks = [t for t in reader.tracks(config.train_split) if t.n_frames > 0]
    if not train_tracks:
        raise RunError(f"{store.url}: feature set {reader.key} has no {config.train_split!r} tracks "
                       "with frames; extract features for the training split first")
    val_reader = validation_reader(config, reader, store)
    val_tracks = [t for t in val_reader.tracks(config.validation_split) if t.n_frames > 0]
    if not val_tracks:
        log.warning("%s: no %r tracks: the best checkpoint is chosen by training loss",
                    config.validation_store or store.url, config.validation_split)

    classes = list(reader.classes)
    stats = label_statistics(reader, [t.track_id for t in train_tracks])
    loss_fn = MaskedLoss(
        pos_weight=torch.from_numpy(stats.pos_weight(max_weight=config.max_pos_weight)),
        clip_pos_weight=torch.from_numpy(stats.pos_weight(max_weight=config.max_pos_weight, level="clip")),
        clip_weight=config.clip_loss_weight,
    )
    repeats = rare_class_repeats(stats.presence, rare_track_count=config.rare_track_count,
                                 factor=config.oversample)
    workers = default_workers(device) if config.workers is None else config.workers

    def dataset(source: TrackReader, tracks: list[TrackEntry]) -> WindowDataset:
        return WindowDataset(source, track_ids=[t.track_id for t in tracks],
                             n_frames=[t.n_frames for t in tracks], window=config.window)

    train_set = dataset(reader, train_tracks)
    max_samples = None if config.steps_per_epoch is None else config.steps_per_epoch * config.batch_size
    sampler = RandomWindowSampler(train_set.n_frames, window=config.window, repeats=repeats,
                                  seed=config.seed, max_samples=max_samples)
    loader_set: Any = train_set
    if config.remix > 0:
        loader_set, sampler = remixing(config, reader, store, train_set, sampler)
    train_loader = make_loader(loader_set, sampler, batch_size=config.batch_size, workers=workers,
                               device=device, drop_last=len(sampler) > config.batch_size)
    val_loader = None
    if val_tracks:
        val_set = dataset(val_reader, val_tracks)
        val_loader = make_loader(val_set, SequentialWindowSampler(val_set.n_frames, window=config.window),
                                 batch_size=config.batch_size, workers=workers, device=device)

    frame_shape = tuple(reader.frame_shape)
    try:
        model = build_model(config.model, n_classes=len(classes), frame_shape=frame_shape, **config.model_options)
    except ValueError as exc:
        raise RunError(f"feature set {reader.key} of {store.url}: cannot build model {config.model!r}: {exc}") from None
    model = Standardized(model, frame_shape=frame_shape)
    if model.uses_statistics:  # a raw-input model (pcen front end) keeps mean 0, std 1
        model.set_statistics(*map(torch.from_numpy, feature_statistics(
            reader, train_set.track_ids, train_set.n_frames, window=max(config.window, 1000))))
    write_json(run_dir / CONFIG_FILE, config.to_json())
    write_json(run_dir / CLASSES_FILE, classes)
    write_json(run_dir / FEATURES_FILE, describe_features(reader))
    write_json(run_dir / STORE_FILE, {"url": str(store.url), "dataset": store.dataset,
                                        "snapshot_id": store.snapshot_id})
    write_json(run_dir / TRAINING_DATA_FILE, {
        "train_tracks": len(train_tracks), "validation_tracks": len(val_tracks),
        "validation_store": config.validation_store,
        "remix": config.remix, "remix_stems": len(loader_set.pool) if config.remix > 0 else 0,
        "oversampled_tracks": int((repeats > 1).sum()),
        "pos_weight": dict(zip(classes, loss_fn.pos_weight.tolist())),
        **training_priors(stats, classes, [t.dominant for t in train_tracks]),
    })
    log.info("training %s on %s (%d train / %d validation tracks, %d classes) on %s with %d workers",
             config.model, reader.key, len(train_tracks), len(val_tracks), len(classes), device, workers)
    meta = {"name": config.model, "options": dict(config.model_options), "n_classes": len(classes),
            "frame_shape": frame_shape, "standardized": True}
    fit(model, train_loader=train_loader, val_loader=val_loader, loss_fn=loss_fn, config=config,
        run_dir=run_dir, device=device, model_meta=meta, resume=resume, on_epoch_end=on_epoch_end)
    return run_dir


def validation_reader(config: TrainConfig, reader: FeatureSetReader, store: FeatureStore) -> FeatureSetReader:
    """The feature set the validation split is read from: the training store's, or the same
    feature set (by configuration hash) of ``config.validation_store``."""
    if not config.validation_store:
        return reader
    from storage.store import open_store

    other = open_store(config.validation_store, mode="r", storage_options=dict(config.storage_options) or None)
    matches = [key for key in other.feature_sets() if other.feature_set(key).config_hash == reader.config_hash]
    if not matches:
        raise RunError(f"{other.url}: the validation store has no feature set computed like {reader.key} of "
                       f"{store.url} (keys: {', '.join(other.feature_sets()) or 'none'}); extract it with the "
                       "same --features")
    if list(other.classes) != list(reader.classes):
        raise RunError(f"{other.url}: the validation store's {len(other.classes)} classes differ from the training "
                       f"store's {len(reader.classes)}; use stores of the same taxonomy")
    return other.feature_set(matches[0])


def remixing(config: TrainConfig, reader: FeatureSetReader, store: FeatureStore, train_set: WindowDataset,
             sampler: RandomWindowSampler) -> tuple[RemixDataset, RemixSampler]:
    """The training dataset and sampler with remixes of the training split's stems (``config.remix``)."""
    from features.mixing import mixing_domain
    from training.remix import RemixDataset, RemixOptions, RemixSampler, StemPool

    if not reader.has_stems:
        raise RunError(f"{store.url}: feature set {reader.key} holds no stems, which --remix mixes; extract the "
                       "store with `instrec extract --stems` (or train without --remix)")
    try:
        domain = mixing_domain(reader.params)
    except ValueError as exc:
        raise RunError(f"{store.url}: {exc}") from None
    pool = StemPool(reader, config.train_split, reader.classes)
    if not len(pool):
        raise RunError(f"{store.url}: feature set {reader.key} has no stems in the {config.train_split!r} split "
                       "to remix; check `instrec store info`")
    options = RemixOptions(min_stems=config.remix_stems[0], max_stems=config.remix_stems[1],
                           gain_db=config.remix_gain_db, eq_db=config.remix_eq_db)
    log.info("remixing %d stems of %s with probability %.2f", len(pool), config.train_split, config.remix)
    return (RemixDataset(train_set, pool, options=options, domain=domain),
            RemixSampler(sampler, probability=config.remix, seed=config.seed))
