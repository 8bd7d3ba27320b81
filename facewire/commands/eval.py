"""``facewire eval FAMILY ...``: score models of one family. ``facewire eval blendshapes
--model M [--model M2 ...] --data CORPUS`` compares blendshape models in a table; the
older spelling without the family (``facewire eval --model M``) is the same command."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from facewire.commands.families import FAMILIES, family_list


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="evaluate models: " + family_list(),
                       description="Evaluate models of one family ('facewire eval FAMILY "
                       "-h'). Without FAMILY: blendshape models, with the flags below.")
    add_blendshape_flags(p, required=False)  # 'facewire eval --model M': blendshapes
    fam = p.add_subparsers(dest="eval_family", metavar="[FAMILY]")
    b = fam.add_parser("blendshapes", help=FAMILIES["blendshapes"] + ": L2, smoothness, "
                       "lip closure, cross-speaker consistency")
    add_blendshape_flags(b, required=True)
    b.set_defaults(func=_eval)
    from facewire.commands.emotion import add_eval_flags, eval_emotion
    from facewire.commands.eval_mesh import add_mesh_family

    add_mesh_family(fam, "landmarks")
    add_mesh_family(fam, "densify")
    e = fam.add_parser("emotion", help=FAMILIES["emotion"] + ": naive sum vs fusion "
                       "(closure, lip error, upper face)")
    add_eval_flags(e)
    e.set_defaults(func=eval_emotion)
    p.set_defaults(func=_eval)


def add_blendshape_flags(p: argparse.ArgumentParser, required: bool) -> None:
    """The flags of ``facewire eval blendshapes`` (and of plain ``facewire eval``)."""
    p.add_argument("--model", action="append", required=required,
                   help="exported model (.onnx, .json or folder) or checkpoint (.pt); repeatable")
    p.add_argument("--data", action="append", default=[],
                   help="corpus with target curves (and phones): synth folder, Live Link Face "
                   "takes, 'facegood'; repeatable")
    p.add_argument("--all-voices", action="store_true",
                   help="keep clips whose voice a model trained on (default: drop them)")
    p.add_argument("--max-clips", type=int, default=None)
    p.add_argument("--fsdd", default=None, help="spoken-digits folder for the cross-speaker "
                   "check (default: ../shared/data/fsdd when present; 'none' to skip)")
    p.add_argument("--rig", default=None, help="rig npz for lip aperture (default ICT facekit)")
    p.add_argument("--plots", default=None, help="folder for PNG plots of the first clips")
    p.add_argument("--baseline", action="store_true",
                   help="add the pocketsphinx phone recognition + teacher baseline")
    p.add_argument("--xspk-warm", type=float, default=3.0, metavar="SECONDS",
                   help="also report xspk_warm: each digit animated after its speaker has "
                        "said this many seconds of other digits in the same stream (a live "
                        "session; 0: skip)")
    p.add_argument("--xspk-pairs", type=int, default=0, metavar="K",
                   help="also report xspk on K disjoint pairs of takes (0-1, 2-3, ...) of "
                        "each digit and speaker: its mean, sd and range, i.e. how precise the "
                        "one-pair xspk column is (0: skip)")
    p.add_argument("--xspk-from", type=int, default=0, metavar="TAKE",
                   help="the --xspk-pairs start at this take (e.g. 14: takes 14-47 for 17 "
                        "pairs, recordings the reported takes 0-13 do not use, to choose a "
                        "model on)")
    p.add_argument("--by", choices=["engine", "voice"], default=None,
                   help="also break closure, false closure and the ratios down per engine "
                   "or per voice of the corpus (which voices a model fails on)")
    p.add_argument("--words", action="append", default=[], metavar="DATA",
                   help="score the words path instead: transcript-fused vs audio-only vs the "
                   "teacher on aligned phones, on clips with transcripts (synth folder, "
                   "spoken-digits folder, or audio with STEM.txt/.lab); repeatable")
    p.add_argument("--fusion", default=None, help="phone fusion card for --words "
                   "(default: bundled)")
    p.add_argument("--real", action="store_true",
                   help="also score real voices: the FACEGOOD captures (closure events of the "
                   "real lips closed by the model, false closure, jaw correlation; "
                   "docs/validation.md); the FSDD figures come whenever FSDD is present")
    p.add_argument("--facegood", default=None, help="FACEGOOD folder for --real (default: "
                   "the data root's facegood/)")
    p.add_argument("--english", action="append", default=[], metavar="DIR",
                   help="--real: folders of real English audio with transcripts (Sphinx "
                   "'transcription' file or STEM.txt/.lab) scored for /p b m/ closure and "
                   "vowel closure, audio only (default: pocketsphinx-testdata's librivox and "
                   "cards when installed; 'none' to skip)")
    p.add_argument("--facegood-takes", type=int, default=None, metavar="N",
                   help="--real: only the first N FACEGOOD takes")
    p.add_argument("--lead-in", type=float, default=0.0, metavar="SECONDS",
                   help="precede every clip with this much -60 dBFS noise, as a "
                   "microphone's stream has before speech (offline; 0: none)")
    p.add_argument("--live", nargs="?", const="live_file", default=None, metavar="LAUNCH",
                   help="score each model through a live launch file (default live_file) run "
                   "as real processes in real time with its own defaults (smoother, gate), "
                   "recorded to a bag: what users run (docs/validation.md). Skips "
                   "xspk_warm, --xspk-pairs and --baseline")
    p.add_argument("--live-arg", action="append", default=[], metavar="K=V",
                   help="--live: a launch arg to set besides path, wait and model (e.g. "
                   "smoothing=one_euro to score the former default); repeatable")
    p.add_argument("--live-sessions", action="store_true",
                   help="--live: one launch per speaker (each voice a new live session) "
                   "instead of one stream of every speaker's clips")
    p.add_argument("--live-dir", default="out/eval_live", help="--live: folder for the "
                   "stream, the bags and the launch logs")
    p.add_argument("--json", default=None, help="write the results as JSON here")
    p.add_argument("--update-card", action="store_true",
                   help="record the figures in the (single) exported model's card")


def _train_voices(model: str) -> set[str]:
    """Voices a model trained on, from its card or checkpoint (empty when unknown)."""
    p = Path(model)
    try:
        if p.suffix == ".pt":
            from facewire.train.blendshapes.train import load_checkpoint

            split = load_checkpoint(p).get("split") or {}
        else:
            from facewire.models.runtime import read_card_safe, resolve_model

            split = (read_card_safe(resolve_model(p)[1]).get("training") or {}).get("split") or {}
    except Exception:
        return set()
    return set(split.get("train_voices", []))


def _eval(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from facewire.train.blendshapes.evaluate import (
        COLUMNS,
        GROUP_COLUMNS,
        check_spread_pairs,
        cross_speaker_ratio,
        cross_speaker_spread,
        evaluate_clips,
        evaluate_groups,
        format_table,
        model_predictor,
        plot_clip,
        replay,
    )
    from facewire.train.data.dataset import DatasetError, load_sources
    from facewire.train.metrics import default_aperture, default_landmarks

    if not args.model:
        print("facewire eval: --model is required (blendshape models; 'facewire eval -h' "
              "lists the other families)", file=sys.stderr)
        return 2
    try:
        check_spread_pairs(args.xspk_pairs, args.xspk_from)
        utts = load_sources(args.data) if args.data else []
        models = _unique_names([(m, *model_predictor(m)) for m in args.model])
        if args.lead_in < 0:
            raise ValueError(f"--lead-in {args.lead_in:g}: seconds of noise, 0 or more")
        if args.lead_in > 0:
            from facewire.train.blendshapes.evaluate import with_lead_in

            models = [(m, f"{n} [lead-in {args.lead_in:g} s]", with_lead_in(f, args.lead_in))
                      for m, n, f in models]
        english = _english_clips(args) if args.real else ([], 0)
        takes = _facegood_takes(args) if args.real else []
        if args.live:
            _check_live(args)
        if args.baseline and not args.live:
            from facewire.train.blendshapes.evaluate import pocketsphinx_teacher

            models.insert(0, ("pocketsphinx", *pocketsphinx_teacher()))
    except (DatasetError, FileNotFoundError, RuntimeError, ValueError) as exc:
        print(f"facewire eval: {exc}", file=sys.stderr)
        return 2
    if args.words:
        return _eval_words(args, models)
    seen = set().union(*(_train_voices(m) for m in args.model))
    if utts and seen and not args.all_voices:
        kept = [u for u in utts if u.voice not in seen]
        print(f"{len(kept)} of {len(utts)} clips from voices no model trained on "
              f"({len({u.voice for u in kept})} voices)")
        utts = kept
    if args.max_clips:
        utts = utts[: args.max_clips]
    aperture = default_aperture(args.rig)
    lmd = default_landmarks(args.rig)
    from facewire.train.data.loaders import data_root

    root = data_root()
    fsdd = args.fsdd or str(root / "fsdd" if root else "../shared/data/fsdd")
    do_fsdd = args.fsdd != "none" and Path(fsdd).exists()
    results: dict[str, dict[str, float]] = {}
    preds: dict[str, dict[str, object]] = {}
    if utts and any(u.phones for u in utts):
        targets = replay({u.id: u.curves for u in utts}, utts)
        results["teacher (target)"] = evaluate_clips(targets, utts, aperture,
                                                     landmarks=lmd)
    for path, name, predict in models:
        r: dict[str, float] = {}
        keep: dict[str, object] = {}
        if args.live:
            from facewire.train.blendshapes.live_graph import LiveGraph, LiveGraphError

            graph = LiveGraph(Path(args.live_dir) / _slug(name + "_".join(args.live_arg)),
                              args.live, model=path, launch_args=args.live_arg)
            _name_speakers(graph, utts, takes, fsdd if do_fsdd else None, english[0])
            _score_basic(graph, utts, takes, fsdd if do_fsdd else None, aperture, lmd, {},
                         english)
            print(f"{name}: {len(graph.clips)} clips through `facewire launch {args.live}` "
                  "in real time ...", file=sys.stderr)
            try:
                graph.run_sessions() if args.live_sessions else graph.run()
            except LiveGraphError as exc:
                print(f"facewire eval: {exc}", file=sys.stderr)
                return 1
            r = _score_basic(graph, utts, takes, fsdd if do_fsdd else None, aperture, lmd,
                             keep, english)
            r.update(graph.stats)
            how = " per speaker" if args.live_sessions else ""
            name = f"{name} [live{how}: {' '.join([args.live, *args.live_arg])}]"
            print(f"{name}: {r['live_frames']:.0f} frames recorded, "
                  f"{r['live_missing_frames']:.0f} missing", file=sys.stderr)
            results[name] = r
            preds[name] = keep
            continue
        r = _score_basic(predict, utts, takes, fsdd if do_fsdd else None, aperture, lmd, keep,
                         english, progress=lambda xs, n=name: tqdm(
                             xs, desc=n, unit="clip", leave=False))
        if do_fsdd:
            if args.xspk_warm > 0:
                r["xspk_warm"] = cross_speaker_ratio(predict, fsdd, warm_s=args.xspk_warm)["xspk"]
            if args.xspk_pairs:
                try:
                    r.update(cross_speaker_spread(predict, fsdd, args.xspk_pairs,
                                                   first_take=args.xspk_from))
                except (FileNotFoundError, ValueError) as exc:
                    print(f"facewire eval: {exc}", file=sys.stderr)
                    return 2
        results[name] = r
        preds[name] = keep
    print(format_table(results, COLUMNS))
    for name, r in results.items():
        if "xspk_mean" in r:
            print(f"{name}: xspk on {int(r['xspk_pairs'])} pairs of takes from take "
                  f"{int(r['xspk_from'])}: mean "
                  f"{r['xspk_mean']:.3f}, sd {r['xspk_sd']:.3f} "
                  f"(range {r['xspk_min']:.3f}-{r['xspk_max']:.3f})")
    groups: dict[str, dict[str, dict[str, float]]] = {}
    if args.by and utts:
        for name, keep in preds.items():
            groups[name] = evaluate_groups(keep, utts, aperture, args.by)  # type: ignore[arg-type]
            print(f"\n{name}, by {args.by}:")
            print(format_table(groups[name], GROUP_COLUMNS))
    if args.plots and utts:
        out = Path(args.plots)
        out.mkdir(parents=True, exist_ok=True)
        for u in utts[:3]:
            plot_clip(out / f"{u.id}.png", u, {n: p[u.id] for n, p in preds.items() if u.id in p})
        print(f"plots -> {out}")
    info = {"data": args.data, "clips": len(utts), "voices": len({u.voice for u in utts}),
            "unseen_voices_only": bool(seen and not args.all_voices), "fsdd": fsdd if do_fsdd
            else None, "command": "facewire " + " ".join(sys.argv[1:]), "results": results}
    if groups:
        info["by"] = {"grouping": args.by, "groups": groups}
    if args.json:
        Path(args.json).write_text(json.dumps(info, indent=2) + "\n")
    if args.update_card:
        from facewire.models.card import write_card
        from facewire.models.runtime import read_card_safe, resolve_model

        models = [m for m in models if m[0] != "pocketsphinx"]
        if len(models) != 1 or models[0][0].endswith(".pt"):
            print("--update-card needs exactly one exported model", file=sys.stderr)
            return 2
        card_path = resolve_model(models[0][0])[1]
        card = read_card_safe(card_path)
        card.setdefault("metrics", {})["eval"] = {**info, "results": results[models[0][1]]}
        card["command"]["eval"] = info["command"]
        write_card(card_path, card)
        print(f"figures recorded in {card_path}")
    return 0


def _eval_words(args: argparse.Namespace, models: list[tuple[str, str, Any]]) -> int:
    from tqdm import tqdm

    from facewire.phones.fusion import load_fusion
    from facewire.train.blendshapes.eval_words import COLUMNS, words_table
    from facewire.train.blendshapes.evaluate import format_table
    from facewire.train.metrics import default_aperture

    aperture = default_aperture(args.rig)
    if aperture is None:
        print("facewire eval: --words needs a rig for the lip aperture (--rig)", file=sys.stderr)
        return 2
    try:
        fusion = load_fusion(args.fusion)
        tables = words_table([(name, predict, _train_voices(path) if path != "pocketsphinx"
                               else set()) for path, name, predict in models],
                             args.words, aperture, fusion, all_voices=args.all_voices,
                             progress=lambda xs: tqdm(xs, unit="clip", leave=False))
    except (FileNotFoundError, ValueError) as exc:
        print(f"facewire eval: {exc}", file=sys.stderr)
        return 2
    for data, table in tables.items():
        print(f"\n{data}")
        print(format_table(table, COLUMNS))
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"command": "facewire " + " ".join(sys.argv[1:]), "fusion": fusion.to_dict(),
             "unseen_voices_only": not args.all_voices, "words": tables}, indent=2) + "\n")
    return 0
def _facegood_takes(args: argparse.Namespace) -> list:
    """The FACEGOOD captures for --real, or a one-line error naming the folder."""
    from facewire.train.data.loaders import DataError, data_root, load_facegood

    root = data_root()
    folder = Path(args.facegood) if args.facegood else (root / "facegood" if root else None)
    if folder is None or not folder.exists():
        raise FileNotFoundError(f"--real needs the FACEGOOD captures: {folder or 'no data root'}"
                                " not found; pass --facegood DIR or set FACEWIRE_DATA")
    try:
        takes = load_facegood(folder)
    except DataError as exc:
        raise ValueError(str(exc)) from exc
    return takes[: args.facegood_takes] if args.facegood_takes else takes


def _check_live(args: argparse.Namespace) -> None:
    from facewire.launch.model import LaunchError, load

    if args.update_card:
        raise ValueError("--update-card records offline figures; run it without --live")
    if args.lead_in:
        raise ValueError("--lead-in is for offline scoring; the live graph hears the "
                         "silence between clips already")
    if any(m.endswith(".pt") for m in args.model):
        raise ValueError("--live runs exported models only (.onnx, .json or a folder); "
                         "export the checkpoint first (facewire export)")
    try:
        given = dict(kv.split("=", 1) for kv in args.live_arg if "=" in kv)
        bad = [kv for kv in args.live_arg if "=" not in kv]
        if bad:
            raise ValueError(f"--live-arg {bad[0]}: write it as KEY=VALUE")
        spec = load(args.live, {**given, "model": args.model[0]})
    except (LaunchError, FileNotFoundError) as exc:
        raise ValueError(f"--live {args.live}: {exc}") from exc
    if not {"path", "model", "wait"} <= set(spec.args):
        raise ValueError(f"--live {args.live}: a launch file that plays a file (args path, "
                         "model and wait, as live_file has) is needed")


def _english_clips(args: argparse.Namespace) -> tuple[list, int]:
    """The real English clips for --real, aligned once for every model, and how many did
    not align; none (with a note saying why) where pocketsphinx-testdata is absent."""
    from facewire.train.blendshapes.real_english import INSTALL_HINT, default_dirs, load_english

    if args.english == ["none"]:
        return [], 0
    dirs = [Path(d) for d in args.english] or default_dirs()
    missing = [d for d in dirs if not d.is_dir()]
    if missing:
        raise FileNotFoundError(f"--english {missing[0]}: no such folder of audio with "
                                "transcripts")
    if not dirs:
        print(f"facewire eval: {INSTALL_HINT}", file=sys.stderr)
        return [], 0
    clips, failed = load_english(dirs)
    if not clips:
        raise ValueError(f"--english: none of the {failed} clips in "
                         f"{', '.join(map(str, dirs))} aligned to its transcript")
    return clips, failed


def _name_speakers(graph: Any, utts: list, takes: list, fsdd: str | None,
                   english: list = ()) -> None:
    """Tell the live graph who says each clip, so that it plays one voice at a time."""
    from facewire.train.blendshapes.evaluate import fsdd_clips
    from facewire.train.data.loaders import load_audio

    for u in utts:
        graph.speaker(u.audio, u.voice)
    for t in takes:
        graph.speaker(t.audio, "facegood")
    for c in english:
        graph.speaker(c.audio, f"english:{c.speaker}")
    if fsdd:
        for (_digit, speaker), files in fsdd_clips(fsdd, 2).items():
            for f in files:
                graph.speaker(load_audio(f), f"fsdd:{speaker}")


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:80]


def _score_basic(predict: Any, utts: list, takes: list, fsdd: str | None, aperture: Any,
                 lmd: Any, keep: dict, english: tuple[list, int] = ([], 0),
                 progress: Any = None) -> dict[str, float]:
    """The figures of every mode: clips, FACEGOOD, real English, FSDD (offline adds the
    digits' warm-up and spread)."""
    from facewire.train.blendshapes.evaluate import (
        cross_speaker_ratio,
        evaluate_clips,
        fsdd_phonetic,
    )

    r: dict[str, float] = {}
    if utts:
        r.update(evaluate_clips(predict, utts, aperture, progress, keep, landmarks=lmd))
    if takes and aperture is not None:
        from facewire.train.blendshapes.real_voice import facegood_scores

        r.update(facegood_scores(predict, takes, aperture))
    if english[0] and aperture is not None:
        from facewire.train.blendshapes.real_english import english_scores

        r.update(english_scores(predict, english[0], aperture, english[1]))
    if fsdd:
        r.update(cross_speaker_ratio(predict, fsdd))
        if aperture is not None:
            r.update(fsdd_phonetic(predict, fsdd, aperture))
    return r


def _unique_names(models: list[tuple[str, str, Any]]) -> list[tuple[str, str, Any]]:
    """Models that share a card name (a candidate and the shipped model it would replace)
    get their path added, so neither row of the table overwrites the other."""
    counts: dict[str, int] = {}
    for _path, name, _predict in models:
        counts[name] = counts.get(name, 0) + 1
    return [(path, f"{name} ({path})" if counts[name] > 1 else name, predict)
            for path, name, predict in models]

