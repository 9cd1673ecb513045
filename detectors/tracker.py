"""Multi-object tracking of people on the ground plane.

Each track is a constant-velocity Kalman filter on the ground (state ``x, y, vx, vy`` in
metres and metres per second; white-noise acceleration ``accel_std_mps2``). A detection's
measurement noise is a pixel error carried to the ground through the calibration's
Jacobian at its foot point, so a far person, whose foot pixel spans metres of floor along
the line of sight, is trusted less in depth than across (and a foot placed from the head
less than one seen on the floor); its variance is divided by the squared confidence, so a
fragment keeps a track alive more than it moves it.

Association follows ByteTrack (Zhang et al., ECCV 2022) on the ground plane, by the
Hungarian method (``scipy.optimize.linear_sum_assignment``) on Mahalanobis distances
gated at ``gate_chi2``, plus an appearance term as in DeepSORT (Wojke et al., ICIP 2017),
here the mean colour of the clothes above and below the waist (:func:`detectors.people.appearance`):
two people crossing in a corridor swap places on the ground but not clothes.

1. detections of confidence >= ``high_conf`` against every track;
2. the tracks left against detections of confidence in [``low_conf``, ``high_conf``)
   (fragments of a partly hidden person keep its track alive instead of starting one);
3. detections whose foot is unknown (cut by the image border, head not visible) against
   the confirmed tracks left, by image overlap: they refresh the track's box, not its place.

Two tracks on one person (one following the whole body, one a part of it whose legs were
lost against the floor) are recognised by their boxes (same top, one inside the other)
and the younger ends. Unmatched detections of confidence >= ``birth_conf`` farther than
``birth_min_gap_m`` from every track start tentative tracks; a track is confirmed after ``min_hits`` updates.
An unmatched track coasts on its prediction (velocity decaying with ``coast_decay_s``):
a confirmed one for ``max_lost_s`` (a person behind a pillar comes back to the same
track), a tentative one for ``max_lost_tentative_s``. Tracks whose prediction leaves the
image are dropped when lost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from detectors.evidence import box_cover, box_iou
from detectors.people import FOOT_FROM_HEAD, FOOT_UNKNOWN, Detections
from detectors.site import SiteConfig


@dataclass(frozen=True, slots=True)
class Tracks:
    """The tracks after one frame, as a structure of arrays (row i = one track)."""

    id: np.ndarray  #: (N,) int64, unique per camera, never reused
    foot_m: np.ndarray  #: (N, 2) [m] filtered ground position
    vel_mps: np.ndarray  #: (N, 2) [m/s] filtered ground velocity
    pos_std_m: np.ndarray  #: (N,) [m] position uncertainty (root mean of the two variances)
    box: np.ndarray  #: (N, 4) [px] x, y, w, h of the last detection matched (full resolution)
    confirmed: np.ndarray  #: (N,) bool
    hits: np.ndarray  #: (N,) int64 detections matched so far
    age_s: np.ndarray  #: (N,) [s] since the track started
    lost_s: np.ndarray  #: (N,) [s] since the last detection matched (0: matched this frame)
    detection: np.ndarray  #: (N,) int64 row of this frame's detections matched (-1: none)
    foot_source: np.ndarray  #: (N,) int8 how the last matched detection placed its foot
    expected_height_px: np.ndarray  #: (N,) [px] image height of an adult at the track's position
    #: (N, 2) [m] moving average of the matched detections' head-based foot points (nan if none yet):
    #: where the person would stand if upright, a second opinion on foot_m
    head_foot_m: np.ndarray

    def __len__(self) -> int:
        return len(self.id)

    def __getitem__(self, mask) -> "Tracks":
        return Tracks(*(getattr(self, f)[mask] for f in self.__slots__))

    @property
    def speed_mps(self) -> np.ndarray:
        return np.hypot(self.vel_mps[:, 0], self.vel_mps[:, 1])

    @classmethod
    def empty(cls) -> "Tracks":
        return cls(np.zeros(0, np.int64), np.zeros((0, 2)), np.zeros((0, 2)), np.zeros(0), np.zeros((0, 4)),
                   np.zeros(0, bool), np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0, np.int64),
                   np.zeros(0, np.int8), np.zeros(0), np.zeros((0, 2)))


class GroundTracker:
    """Kalman + two-stage Hungarian tracker of person detections on the ground (see the module docstring).

    Parameters (keyword-only after ``site``), units in brackets:

    - ``accel_std_mps2`` [m/s²]: process noise (how fast walkers change velocity);
    - ``foot_std_px`` [full-res px]: error of a foot seen on the floor; ``head_std_factor``
      multiplies it for a foot placed from the head; ``min_meas_std_m`` [m] floor;
    - ``gate_chi2``: Mahalanobis gate (13.8 = 99.9 % for two dimensions);
    - ``high_conf``, ``low_conf``, ``birth_conf``: detection confidence levels of the two
      stages and of track birth; ``birth_min_gap_m`` [m];
    - ``min_hits``: updates before a track is confirmed;
    - ``max_lost_s``, ``max_lost_tentative_s`` [s]: how long unmatched tracks coast;
      ``coast_decay_s`` [s]: time constant of the velocity's decay while coasting;
    - ``min_iou``: overlap of a foot-less detection with a track's box to refresh it;
    - ``same_top``, ``same_overlap``: two tracks matched in one frame whose boxes have their
      tops within ``same_top`` of the taller box's height and overlap over ``same_overlap`` of
      the smaller box are one person (a body and a part of it): the younger track ends;
    - ``birth_max_overlap``, ``birth_block_s`` [s]: a detection with more than this share of its
      box inside the box of a confirmed track seen within ``birth_block_s`` starts no track.
    """

    def __init__(self, site: SiteConfig, *, accel_std_mps2: float = 2.0, foot_std_px: float = 3.0,
                 head_std_factor: float = 2.5, min_meas_std_m: float = 0.08, gate_chi2: float = 13.8,
                 high_conf: float = 0.5, low_conf: float = 0.15, birth_conf: float = 0.6,
                 birth_min_gap_m: float = 0.45, min_hits: int = 3, max_lost_s: float = 2.0,
                 max_lost_tentative_s: float = 0.25, coast_decay_s: float = 1.0, min_iou: float = 0.3,
                 same_top: float = 0.12, same_overlap: float = 0.7, birth_max_overlap: float = 0.5,
                 birth_block_s: float = 0.5, history_s: float = 4.0, max_weak_s: float = 1.0,
                 colour_std: float = 12.0, colour_gate: float = 9.0) -> None:
        for name, value in (("accel_std_mps2", accel_std_mps2), ("foot_std_px", foot_std_px),
                            ("gate_chi2", gate_chi2), ("max_lost_s", max_lost_s), ("coast_decay_s", coast_decay_s)):
            if not (math.isfinite(value) and value > 0):
                raise ValueError(f"GroundTracker.{name} must be a finite number > 0; got {value!r}")
        if not 0 <= low_conf <= high_conf <= 1:
            raise ValueError(f"GroundTracker: need 0 <= low_conf <= high_conf <= 1; got {low_conf!r}, {high_conf!r}")
        self.site = site
        self.accel_std = float(accel_std_mps2)
        self.foot_std_px = float(foot_std_px)
        self.head_std_factor = float(head_std_factor)
        self.min_meas_std_m = float(min_meas_std_m)
        self.gate_chi2 = float(gate_chi2)
        self.high_conf, self.low_conf, self.birth_conf = float(high_conf), float(low_conf), float(birth_conf)
        self.birth_min_gap_m = float(birth_min_gap_m)
        self.min_hits = int(min_hits)
        self.max_lost_s = float(max_lost_s)
        self.max_lost_tentative_s = float(max_lost_tentative_s)
        self.coast_decay_s = float(coast_decay_s)
        self.min_iou = float(min_iou)
        self.same_top = float(same_top)
        self.same_overlap = float(same_overlap)
        self.birth_max_overlap = float(birth_max_overlap)
        self.birth_block_s = float(birth_block_s)
        self.history_s = float(history_s)
        self.max_weak_s = float(max_weak_s)
        self.colour_std = float(colour_std)
        self.colour_gate = float(colour_gate)
        self._next_id = 1
        self._t: float | None = None
        self._x = np.zeros((0, 4))
        self._P = np.zeros((0, 4, 4))
        self._id = np.zeros(0, np.int64)
        self._box = np.zeros((0, 4))
        self._hits = np.zeros(0, np.int64)
        self._born = np.zeros(0)
        self._last = np.zeros(0)
        self._src = np.zeros(0, np.int8)
        self._head = np.zeros((0, 2))
        self._strong = np.zeros(0)
        self._colour = np.zeros((0, 6), np.float32)
        self._hist: dict[int, list] = {}
        self._hist_arrays: dict[int, np.ndarray] = {}  #: track id -> its history as an array, this frame

    def __len__(self) -> int:
        return len(self._id)

    def update(self, t: float, det: Detections) -> Tracks:
        """Predict every track to ``t`` [s], associate ``det``, update, start and end tracks."""
        t_prev = self._t
        dt = 0.0 if t_prev is None else max(0.0, float(t) - t_prev)
        self._t = float(t)
        self._predict(dt, t_prev)
        n_tr, n_det = len(self._id), len(det)
        matched_det = np.full(n_tr, -1, np.int64)
        used = np.zeros(n_det, bool)
        known = det.known
        R = self._meas_cov(det)
        high = known & (det.confidence >= self.high_conf)
        low = known & (det.confidence >= self.low_conf) & ~high
        self._associate(np.arange(n_tr), np.flatnonzero(high), det, R, matched_det, used)
        self._associate(np.flatnonzero(matched_det < 0), np.flatnonzero(low), det, R, matched_det, used)
        upd = np.flatnonzero(matched_det >= 0)
        if len(upd):
            # a weak detection (a fragment) keeps a track alive more than it moves it: its variance is
            # divided by its squared confidence in the update (not in the gate, which it would widen)
            conf = np.clip(det.confidence[matched_det[upd]], 0.2, 1.0)
            self._correct(upd, det.foot_m[matched_det[upd]], R[matched_det[upd]] / (conf ** 2)[:, None, None])
            strong = det.confidence[matched_det[upd]] >= self.high_conf
            self._strong[upd[strong]] = t
            # the clothes' colour, learnt from strong detections (fragments show part of the clothes)
            col = self._det_colour(det)[matched_det[upd[strong]]]
            old = self._colour[upd[strong]]
            have = np.all(np.isfinite(col), axis=1)
            blend = np.where(np.all(np.isfinite(old), axis=1)[:, None], 0.7 * old + 0.3 * col, col)
            self._colour[upd[strong]] = np.where(have[:, None], blend, old)
            self._box[upd] = det.box[matched_det[upd]]
            self._hits[upd] += 1
            self._last[upd] = t
            self._src[upd] = det.foot_source[matched_det[upd]]
            hf = det.head_foot_m[matched_det[upd]]
            old = self._head[upd]
            fresh = np.all(np.isfinite(hf), axis=1)
            blend = np.where(np.all(np.isfinite(old), axis=1)[:, None], 0.5 * old + 0.5 * hf, hf)
            self._head[upd] = np.where(fresh[:, None], blend, old)
        self._refresh_boxes(t, det, matched_det, used)
        self._merge_duplicates(t, matched_det)
        self._births(t, det, R, used)
        keep = self._survivors(t)
        matched_det = np.concatenate([matched_det, self._birth_rows])
        self._apply_keep(keep)
        matched_det = matched_det[keep]
        self._record(t, matched_det)
        return self._snapshot(t, matched_det)

    def history(self, track_id: int) -> np.ndarray:
        """(K, 5) the last ``history_s`` of one track, one row per frame it was matched in: t [s],
        x, y [m] (filtered), box height and width [px] (empty when the track is unknown). Read-only: made once
        per frame and track, however many detectors ask."""
        tid = int(track_id)
        out = self._hist_arrays.get(tid)
        if out is None:
            rows = self._hist.get(tid)
            out = np.array(rows, dtype=np.float64).reshape(-1, 5) if rows else np.zeros((0, 5))
            out.flags.writeable = False
            self._hist_arrays[tid] = out
        return out

    def _record(self, t: float, matched_det: np.ndarray) -> None:
        self._hist_arrays = {}
        alive = set(self._id.tolist())
        for tid in [k for k in self._hist if k not in alive]:
            del self._hist[tid]
        horizon = t - self.history_s
        for k in np.flatnonzero((matched_det >= 0) & (self._strong >= t - 1e-9)):
            rows = self._hist.setdefault(int(self._id[k]), [])
            rows.append((t, self._x[k, 0], self._x[k, 1], self._box[k, 3], self._box[k, 2]))
            while rows and rows[0][0] < horizon:
                rows.pop(0)

    # --- Kalman filter --------------------------------------------------------------------

    def _predict(self, dt: float, t_prev: float | None) -> None:
        if len(self._id) == 0 or dt <= 0:
            return
        F = np.eye(4)
        F[0, 2] = F[1, 3] = dt
        q = self.accel_std ** 2
        Q1 = np.array([[dt ** 4 / 4, dt ** 3 / 2], [dt ** 3 / 2, dt ** 2]]) * q
        Q = np.zeros((4, 4))
        Q[np.ix_([0, 2], [0, 2])] = Q1
        Q[np.ix_([1, 3], [1, 3])] = Q1
        self._x = self._x @ F.T
        self._P = F @ self._P @ F.T + Q
        # coasting tracks slow down: a person behind a pillar is more likely to stop than to run on
        lost = self._last < t_prev - 1e-9  # not matched in the previous frame
        if lost.any():
            self._x[lost, 2:] *= math.exp(-dt / self.coast_decay_s)

    def _meas_cov(self, det: Detections) -> np.ndarray:
        """(N, 2, 2) [m²] ground covariance of each detection's foot (nan-free; huge when unknown)."""
        n = len(det)
        R = np.tile(np.eye(2) * 1e6, (n, 1, 1))
        ok = det.known
        if not ok.any():
            return R
        p = det.foot_px[ok]
        e = 1.0
        k = len(p)
        # the foot and its neighbours one pixel right and one down, mapped to the ground in one call
        g = self.site.image_to_ground(np.concatenate([p, p + [e, 0.0], p + [0.0, e]]))
        g0 = g[:k]
        gu = (g[k:2 * k] - g0) / e
        gv = (g[2 * k:] - g0) / e
        J = np.stack([gu, gv], axis=2)  # (k, 2, 2): columns d/du, d/dv
        std = np.full(len(p), self.foot_std_px)
        std[det.foot_source[ok] == FOOT_FROM_HEAD] *= self.head_std_factor
        cov = np.einsum("kij,kmj->kim", J, J) * (std ** 2)[:, None, None]
        cov += np.eye(2) * self.min_meas_std_m ** 2
        cov = np.where(np.isfinite(cov), cov, 1e6)
        R[ok] = cov
        return R

    def _associate(self, tracks: np.ndarray, dets: np.ndarray, det: Detections, R: np.ndarray,
                   matched_det: np.ndarray, used: np.ndarray) -> None:
        if len(tracks) == 0 or len(dets) == 0:
            return
        from scipy.optimize import linear_sum_assignment

        d2 = self._mahalanobis(tracks, det.foot_m[dets], R[dets])
        big = 1e9
        cost = np.where(d2 <= self.gate_chi2, d2, big)
        if self.colour_std > 0:
            # clothes: a detection far in colour from a track's is somebody else (nan: no opinion)
            dc = self._det_colour(det)[dets]
            diff = self._colour[tracks][:, None, :] - dc[None, :, :]
            known = np.isfinite(diff)
            with np.errstate(invalid="ignore", divide="ignore"):
                c2 = np.where(known, diff, 0.0) ** 2
                c2 = c2.sum(axis=2) / np.maximum(known.sum(axis=2), 1) / self.colour_std ** 2
            cost = np.where(c2 <= self.colour_gate, cost + c2, big)
        # a tentative track costs a little more: a confirmed one takes a contested detection
        cost += np.where(self._hits[tracks] >= self.min_hits, 0.0, 0.5)[:, None]
        rows, cols = linear_sum_assignment(cost)
        ok = cost[rows, cols] < big
        matched_det[tracks[rows[ok]]] = dets[cols[ok]]
        used[dets[cols[ok]]] = True

    @staticmethod
    def _det_colour(det: Detections) -> np.ndarray:
        return det.colour if det.colour is not None else np.full((len(det), 6), np.nan, np.float32)

    def _mahalanobis(self, tracks: np.ndarray, z: np.ndarray, R: np.ndarray) -> np.ndarray:
        """(T, D) squared Mahalanobis distances of detections ``z`` (D, 2) to the predicted tracks."""
        y = z[None, :, :] - self._x[tracks, None, :2]  # (T, D, 2)
        S = self._P[tracks, None, :2, :2] + R[None]  # (T, D, 2, 2)
        a, b, c, d = S[..., 0, 0], S[..., 0, 1], S[..., 1, 0], S[..., 1, 1]
        det = a * d - b * c
        with np.errstate(invalid="ignore", divide="ignore"):
            m = (d * y[..., 0] ** 2 - (b + c) * y[..., 0] * y[..., 1] + a * y[..., 1] ** 2) / det
        return np.where(np.isfinite(m), m, np.inf)

    def _correct(self, idx: np.ndarray, z: np.ndarray, R: np.ndarray) -> None:
        P = self._P[idx]
        S = P[:, :2, :2] + R
        K = P[:, :, :2] @ np.linalg.inv(S)  # (k, 4, 2)
        y = z - self._x[idx, :2]
        self._x[idx] += np.einsum("kij,kj->ki", K, y)
        H = np.zeros((2, 4))
        H[0, 0] = H[1, 1] = 1.0
        self._P[idx] = (np.eye(4)[None] - K @ H) @ P

    # --- track management -----------------------------------------------------------------

    def _refresh_boxes(self, t: float, det: Detections, matched_det: np.ndarray, used: np.ndarray) -> None:
        """Foot-less detections refresh the box of the confirmed track they overlap most."""
        rows = np.flatnonzero(~det.known & ~used & (det.confidence > 0))
        cand = np.flatnonzero((matched_det < 0) & (self._hits >= self.min_hits))
        if len(rows) == 0 or len(cand) == 0:
            return
        iou = box_iou(self._box[cand], det.box[rows])
        for _ in range(min(len(rows), len(cand))):
            i, j = np.unravel_index(int(np.argmax(iou)), iou.shape)
            if iou[i, j] < self.min_iou:
                break
            k = cand[i]
            self._box[k] = det.box[rows[j]]
            self._last[k] = t
            self._src[k] = FOOT_UNKNOWN
            matched_det[k] = rows[j]
            used[rows[j]] = True
            iou[i, :] = -1.0
            iou[:, j] = -1.0

    def _merge_duplicates(self, t: float, matched_det: np.ndarray) -> None:
        """Two tracks on one person (one followed the whole body, the other a part of it, a torso
        whose legs were lost against the floor): boxes whose tops are within ``same_top`` of the
        taller's height and that overlap over ``same_overlap`` of the smaller's area. The track with
        fewer hits is ended (marked lost long ago)."""
        idx = np.flatnonzero((self._last >= t - 1e-9) & (self._hits >= self.min_hits))
        if len(idx) < 2:
            return
        b = self._box[idx]
        x0, y0, x1, y1 = b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
        iw = np.clip(np.minimum(x1[:, None], x1[None]) - np.maximum(x0[:, None], x0[None]), 0, None)
        ih = np.clip(np.minimum(y1[:, None], y1[None]) - np.maximum(y0[:, None], y0[None]), 0, None)
        area = b[:, 2] * b[:, 3]
        smaller = np.minimum(area[:, None], area[None])
        tall = np.maximum(b[:, 3][:, None], b[:, 3][None])
        with np.errstate(invalid="ignore", divide="ignore"):
            same = (iw * ih >= self.same_overlap * smaller) & (np.abs(y0[:, None] - y0[None]) <= self.same_top * tall)
        np.fill_diagonal(same, False)
        for i, j in zip(*np.nonzero(np.triu(same))):
            a, c = idx[i], idx[j]
            if self._last[a] < t - 1e-9 or self._last[c] < t - 1e-9:
                continue  # one of them already ended
            lose = a if (self._hits[a], -self._born[a]) < (self._hits[c], -self._born[c]) else c
            self._last[lose] = -np.inf
            matched_det[lose] = -1

    def _births(self, t: float, det: Detections, R: np.ndarray, used: np.ndarray) -> None:
        rows = np.flatnonzero(~used & det.known & (det.confidence >= self.birth_conf))
        self._birth_rows = np.zeros(0, np.int64)
        if len(rows) == 0:
            return
        z = det.foot_m[rows]
        if len(self._id):
            gap = np.linalg.norm(z[:, None, :] - self._x[None, :, :2], axis=2).min(axis=1)
            ok = gap >= self.birth_min_gap_m
            # a detection lying inside the box of a confirmed track seen lately is part of that person
            # (a torso whose legs were lost against the floor), not somebody new
            recent = np.flatnonzero((self._hits >= self.min_hits) & (self._last >= t - self.birth_block_s))
            if len(recent):
                inside = box_cover(det.box[rows], self._box[recent]).max(axis=1)
                ok &= inside < self.birth_max_overlap
            rows, z = rows[ok], z[ok]
        # two detections of one frame closer than the gap: keep the more confident
        if len(rows) > 1:
            order = np.argsort(-det.confidence[rows], kind="stable")
            keep = []
            for k in order:
                if all(np.linalg.norm(z[k] - z[j]) >= self.birth_min_gap_m for j in keep):
                    keep.append(k)
            keep = np.sort(np.asarray(keep))
            rows, z = rows[keep], z[keep]
        n = len(rows)
        if n == 0:
            return
        P0 = np.zeros((n, 4, 4))
        P0[:, :2, :2] = R[rows]
        P0[:, 2, 2] = P0[:, 3, 3] = 1.0  # [m²/s²] a walker's speed is unknown at first
        self._x = np.vstack([self._x, np.column_stack([z, np.zeros((n, 2))])])
        self._P = np.concatenate([self._P, P0])
        self._id = np.concatenate([self._id, np.arange(self._next_id, self._next_id + n)])
        self._next_id += n
        self._box = np.vstack([self._box, det.box[rows]])
        self._hits = np.concatenate([self._hits, np.ones(n, np.int64)])
        self._born = np.concatenate([self._born, np.full(n, t)])
        self._last = np.concatenate([self._last, np.full(n, t)])
        self._src = np.concatenate([self._src, det.foot_source[rows]])
        self._head = np.vstack([self._head, det.head_foot_m[rows]])
        self._strong = np.concatenate([self._strong, np.full(n, t)])
        self._colour = np.vstack([self._colour, self._det_colour(det)[rows]])
        self._birth_rows = rows.astype(np.int64)
        used[rows] = True

    def _survivors(self, t: float) -> np.ndarray:
        lost = t - self._last
        confirmed = self._hits >= self.min_hits
        keep = np.where(confirmed, lost <= self.max_lost_s + 1e-9, lost <= self.max_lost_tentative_s + 1e-9)
        # a track fed only fragments for a while drifts with them: it ends
        keep &= t - self._strong <= self.max_weak_s + 1e-9
        if (lost > 0).any():
            px = self.site.ground_to_image(self._x[:, :2])
            w, h = self.site.image_size
            outside = ~np.all(np.isfinite(px), axis=1) | (px[:, 0] < -0.05 * w) | (px[:, 0] > 1.05 * w) \
                | (px[:, 1] < 0) | (px[:, 1] > 1.25 * h)
            keep &= ~(outside & (lost > 0))
        return keep

    def _apply_keep(self, keep: np.ndarray) -> None:
        for name in ("_x", "_P", "_id", "_box", "_hits", "_born", "_last", "_src", "_head", "_strong", "_colour"):
            setattr(self, name, getattr(self, name)[keep])

    def _snapshot(self, t: float, matched_det: np.ndarray) -> Tracks:
        n = len(self._id)
        if n == 0:
            return Tracks.empty()
        pos = self._x[:, :2].copy()
        var = (self._P[:, 0, 0] + self._P[:, 1, 1]) / 2
        height = self.site.person_height_px(pos)
        return Tracks(id=self._id.copy(), foot_m=pos, vel_mps=self._x[:, 2:].copy(), pos_std_m=np.sqrt(var),
                      box=self._box.copy(), confirmed=self._hits >= self.min_hits, hits=self._hits.copy(),
                      age_s=t - self._born, lost_s=t - self._last, detection=matched_det.astype(np.int64),
                      foot_source=self._src.copy(), expected_height_px=height, head_foot_m=self._head.copy())
