"""The figures of :mod:`bench_realism` (matplotlib, Agg), each written atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from detectors.files import atomic_path

FLOW_RANGE = (1.6, 2.0)  #: [persons/(m s)] Seyfried et al. (2009); Liddle et al. (2011) for the widths
#: colour and marker per simulator, the same in every figure
STYLE = {"ours": ("C0", "o"), "JuPedSim CFS": ("C1", "s"), "JuPedSim SFM": ("C2", "^"), "JuPedSim AVM": ("C4", "D")}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110)


def _style(name: str):
    for key, style in STYLE.items():
        if name.startswith(key):
            return style
    return ("C3", "x")


def draw_fundamental(path: Path, rho, curves: dict[str, np.ndarray], flows: dict[str, tuple[float, float, float]],
                     failed_runs: dict[str, int], weidmann, rms_relative) -> None:
    """Speed against density next to Weidmann, and the 1 m bottleneck's flow."""
    plt = _plt()
    fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    fine = np.linspace(0.3, 4.5, 200)
    ax.plot(fine, weidmann(fine), "k-", lw=2, label="Weidmann (1993)")
    for name, v in curves.items():
        colour, marker = _style(name)
        done = int(np.isfinite(v).sum())
        note = "" if done == len(v) else f" ({done} of {len(v)} densities ran)"
        ax.plot(rho, v, marker + ("--" if "ring" in name and name.startswith("ours") else "-"), color=colour,
                label=f"{name}: {100 * rms_relative(v, rho):.1f} % RMS{note}")
    ax.set_xlabel("density [persons/m²]")
    ax.set_ylabel("mean speed [m/s]")
    ax.set_ylim(0.0, 1.95)  # room for the legend above the curves
    ax.set_title("Speed against density, 4 m wide corridor")
    ax.legend(fontsize=8, loc="upper right")
    names = list(flows)
    means = [flows[n][0] for n in names]
    err = np.array([[flows[n][0] - flows[n][1], flows[n][2] - flows[n][0]] for n in names]).T
    bx.axhspan(*FLOW_RANGE, color="0.85", label="Seyfried et al. (2009)")
    bx.bar(range(len(names)), np.nan_to_num(means), yerr=np.nan_to_num(err), capsize=4,
           color=[_style(n)[0] for n in names])
    for k, (name, m) in enumerate(zip(names, means)):
        if not np.isfinite(m):
            bx.text(k, 0.05, "runs failed", ha="center", va="bottom", rotation=90, fontsize=8)
        elif failed_runs.get(name):
            bx.text(k, 0.05, f"{failed_runs[name]} run(s) failed", ha="center", va="bottom", fontsize=7,
                    color="white")
    bx.set_xticks(range(len(names)), [n.replace(" ", "\n", 1) for n in names], fontsize=8)
    bx.set_ylabel("specific flow [persons/(m s)]")
    bx.set_title("1 m bottleneck, 2.8 m long (95 % interval)")
    bx.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def draw_counterflow(path: Path, rho, table: dict[str, dict[str, np.ndarray]]) -> None:
    """Three panels against density: speed of the counterflow over the one-way speed, share
    of people stopped, band index; ``table[simulator][measure]`` holds one value per density
    (measures ``ratio``, ``stopped_mixed``, ``stopped_lanes``, ``band_mixed``, ``band_lanes``)."""
    plt = _plt()
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.9))
    ax, bx, cx = axes
    for name, m in table.items():
        colour, marker = _style(name)
        ax.plot(rho, m["ratio"], marker + "-", color=colour, label=name)
        bx.plot(rho, 100 * m["stopped_mixed"], marker + "-", color=colour, label=f"{name}, mixed start")
        bx.plot(rho, 100 * m["stopped_lanes"], marker + ":", color=colour, label=f"{name}, two lanes at start")
        cx.plot(rho, m["band_mixed"], marker + "-", color=colour, label=f"{name}, mixed start")
        cx.plot(rho, m["band_lanes"], marker + ":", color=colour, label=f"{name}, two lanes at start")
    ax.axhline(0.85, color="0.5", lw=1, ls="--", label="target 0.85")
    ax.set_ylim(0, 1.2)
    ax.set_title("speed both ways / one way (mixed start)")
    bx.axhline(10, color="0.5", lw=1, ls="--", label="target <= 10 %")
    bx.set_ylim(-2, 102)
    bx.set_title("people stopped [%]")
    cx.axhline(0.5, color="0.5", lw=1, ls="--", label="target >= 0.5")
    cx.set_ylim(-0.1, 1.05)
    cx.set_title("band index (0 mixed, 1 clean lanes)")
    for a in axes:
        a.set_xlabel("density [persons/m²]")
        a.legend(fontsize=7)
    fig.suptitle("Counterflow in a 4 m wide corridor, half the people each way", fontsize=10)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def draw_widths(path: Path, widths, flows: dict[str, list[tuple[float, float, float]]]) -> None:
    """Specific flow against bottleneck width (mean and 95 % interval per simulator)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.axhspan(*FLOW_RANGE, color="0.85", label="experiments (Seyfried 2009, Liddle 2011)")
    w = np.asarray(widths, dtype=np.float64)
    for k, (name, rows) in enumerate(flows.items()):
        colour, marker = _style(name)
        m = np.array([r[0] for r in rows])
        err = np.array([[r[0] - r[1], r[2] - r[0]] for r in rows]).T
        ax.errorbar(w + 0.015 * (k - 0.5), m, yerr=np.nan_to_num(err), fmt=marker + "-", color=colour, capsize=3,
                    label=name)
    ax.set_xlabel("bottleneck width [m]")
    ax.set_ylabel("specific flow [persons/(m s)]")
    ax.set_ylim(0, 2.6)
    ax.set_title("Bottleneck 2.8 m long, 100 people from 2.6 persons/m²")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def draw_energy(path: Path, curves: dict[str, tuple[np.ndarray, np.ndarray, float]], fit_s, cutoff_s: float) -> None:
    """``E(tau)`` on log-log axes per simulator (``curves[name] = (tau, E, fitted exponent)``),
    with the tau^-2 law of Karamouzas et al. (2014) for reference."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 4.4))
    for name, (tau, energy, n) in curves.items():
        colour, marker = _style(name)
        ok = np.isfinite(energy) & (energy > 0)
        ax.loglog(tau[ok], energy[ok], marker, color=colour, ms=4, label=f"{name}: fitted exponent {n:.2f}")
    ref_tau = np.linspace(fit_s[0], fit_s[1], 50)
    ax.loglog(ref_tau, 0.5 * ref_tau ** -2.0 * np.exp(-ref_tau / cutoff_s), "k--", lw=1,
              label=f"τ⁻² exp(-τ/{cutoff_s:g} s) (Karamouzas et al. 2014)")
    ax.axvspan(*fit_s, color="0.93", zorder=0)
    ax.set_xlabel("time to collision τ [s]")
    ax.set_ylabel("interaction energy E(τ)")
    ax.set_title("Crossing flows: E(τ) = ln(P_NI(τ) / P(τ)) (fit range shaded)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
