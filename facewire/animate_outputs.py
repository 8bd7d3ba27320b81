"""Files written for an animated take: CSV, npz, bag, plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facewire.offline import Take
from facewire.rig.arkit import ARKIT_52, ARKIT_INDEX

PLOT_CURVES = ("jawOpen", "mouthClose", "mouthFunnel", "mouthPucker", "mouthStretchLeft",
               "mouthPressLeft")
TAKE_METADATA = "facewire.take"  # MCAP metadata record: which phone source made the take


def write_outputs(take: Take, stem: Path, plot: bool = True) -> list[Path]:
    from facewire.bag.writer import BagWriter
    from facewire.bridges.livelink_csv import write_livelink_csv

    stem.parent.mkdir(parents=True, exist_ok=True)
    written = []
    # appended, not with_suffix: "c2.05" and "c2.5" must not both become "c2.*"
    csv_path = stem.with_name(stem.name + ".csv")
    write_livelink_csv(csv_path, take.weights, times=take.times, fps=take.fps)
    written.append(csv_path)
    npz_path = stem.with_name(stem.name + ".npz")
    np.savez_compressed(npz_path, weights=take.weights, times=take.times, fps=take.fps,
                        names=np.array(ARKIT_52), source=take.source,
                        source_reason=take.source_reason, **take.emotion_fields())
    written.append(npz_path)
    bag_path = stem.with_name(stem.name + ".mcap")
    with BagWriter(bag_path) as bag:
        bag.add_metadata(TAKE_METADATA, {"source": take.source,
                                         "source_reason": take.source_reason})
        for topic, msg in take.messages:
            bag.write(topic, msg, log_time_ns=msg.header.stamp_ns)
    written.append(bag_path)
    if plot:
        png_path = stem.with_name(stem.name + ".png")
        plot_take(take, png_path)
        written.append(png_path)
    return written


def plot_take(take: Take, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_wave, ax_curves) = plt.subplots(2, 1, figsize=(12, 5), sharex=True,
                                             gridspec_kw={"height_ratios": [1, 2]})
    t_audio = np.arange(len(take.audio)) / take.sample_rate
    ax_wave.plot(t_audio, take.audio, lw=0.4, color="0.3")
    ax_wave.set_ylabel("audio")
    for name in PLOT_CURVES:
        ax_curves.plot(take.times, take.weights[:, ARKIT_INDEX[name]], label=name, lw=1.2)
    ax_curves.set_ylim(0, 1)
    ax_curves.set_xlabel("media time (s)")
    ax_curves.set_ylabel("weight")
    ax_curves.legend(loc="upper right", ncol=3, fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
