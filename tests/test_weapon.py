"""Weapon: the canonical person box, the parameters, the per-track evidence (one odd crop does
not alarm, a run of rifle crops does), the shipped classifier on rendered crops of the
library's rifle carrier and hard negatives, the training pieces on a tiny setting."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from detectors.checks import synthetic_site
from detectors.weapon import (BOX_BELOW, BOX_HEIGHT, BOX_WIDTH, CROP_SIZE, MIN_HEIGHT_PX, WEIGHTS_FILE, WeaponDetector,
                              person_box)
from tests.scenes import draw_block, frames, run


def test_person_box_is_centred_on_the_foot_with_head_room():
    box = person_box(np.array([[100.0, 200.0]]), np.array([50.0]))
    assert box.tolist() == [[100.0 - 0.5 * BOX_WIDTH * 50, 200.0 - (BOX_HEIGHT - BOX_BELOW) * 50,
                             BOX_WIDTH * 50, BOX_HEIGHT * 50]]
    assert box[0, 1] + box[0, 3] == pytest.approx(200.0 + BOX_BELOW * 50)  # reaches just below the feet


@pytest.mark.parametrize("params, match", [
    ({"every_n": 0}, "every_n must be an integer >= 1 frame; got 0"),
    ({"max_crops": 1.5}, "max_crops must be an integer >= 1; got 1.5"),
    ({"confirm_k": 5, "confirm_n": 4}, "0 <= confirm_k <= confirm_n, confirm_n >= 1; got 5 and 4"),
    ({"tau_s": float("nan")}, "tau_s must be a finite number >= 0; got nan"),
    ({"min_height_px": -1.0}, "min_height_px must be a finite number >= 0; got -1.0"),
    ({"weights": "/no/such/weapon.pt"}, "weapon CNN weights not found at '/no/such/weapon.pt'"),
])
def test_parameters_are_checked(params, match):
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        WeaponDetector(synthetic_site(()), **params)


class _Scripted:
    """A stand-in classifier: the probability of each crop from a function of the call count."""

    def __init__(self, prob_of_call):
        self.calls = 0
        self.prob_of_call = prob_of_call

    def predict(self, crops):
        self.calls += 1
        return np.full(len(crops), self.prob_of_call(self.calls), np.float64)


def _walker_frames(site, seconds=8.0):
    def draw(img, t):
        draw_block(img, site, (6.0 + 1.0 * t, 4.0), height_m=1.7, width_m=0.5, colour=(40, 40, 200))
    return frames(site, draw, seconds)


def test_one_odd_crop_does_not_alarm_a_run_of_them_does():
    site = synthetic_site(())
    fr = _walker_frames(site)
    for confirm_k in (0, WeaponDetector(site).confirm_k):
        odd = WeaponDetector(site, min_height_px=0.0, confirm_k=confirm_k)
        odd.model = _Scripted(lambda k: 1.0 if k == 3 else 0.0)  # one crop says rifle
        out = run(odd, site, fr)
        assert odd.model.calls > 10
        if confirm_k == 0:  # the moving average alone: graded, below the threshold
            assert 0 < max(o.score for _, o in out) < odd.default_threshold
        else:  # one crop is fewer than confirm_k: capped at the confirm_k-th highest crop, 0
            assert confirm_k >= 2 and max(o.score for _, o in out) == 0.0
    sure = WeaponDetector(site, min_height_px=0.0)
    sure.model = _Scripted(lambda k: 0.99)
    out = run(sure, site, fr)
    scored = [(t, o) for t, o in out if o.score > 0]
    first = next(t for t, o in scored if o.score >= sure.default_threshold)
    # sure crops reach the threshold within ln(0.99 / (0.99 - threshold)) time constants
    assert first - scored[0][0] <= sure.tau_s * np.log(0.99 / (0.99 - sure.default_threshold)) + 0.2
    t, o = scored[-1]
    x, y, w, h = o.bbox
    foot = site.ground_to_image(np.array([[6.0 + t, 4.0]]))[0]
    assert x <= foot[0] <= x + w and y < foot[1] <= y + h + 2  # the box stands on the walker
    assert o.instances[0].key.startswith("track/")
    assert max(o.score for _, o in scored) <= 0.99  # graded: never above what the crops say


def test_the_score_needs_k_of_the_last_n_crops_above_it():
    """Crops alternating 1.0 and 0.93 average above the threshold (0.98 at the peaks), but only 2 of any 4 are
    above it: with 3 of 4 the score is capped at the third highest of the last four crops, 0.93."""
    site = synthetic_site(())
    fr = _walker_frames(site)
    best = {}
    for k in (0, 3):
        det = WeaponDetector(site, min_height_px=0.0, confirm_k=k, confirm_n=4)
        det.model = _Scripted(lambda c: 1.0 if c % 2 else 0.93)
        best[k] = max(o.score for _, o in run(det, site, fr))
    assert best[0] >= det.default_threshold > 0.93 + 0.01  # the average alone alarms
    assert best[3] == pytest.approx(0.93)  # min(average, third highest of [1.0, 0.93, 1.0, 0.93])


def test_people_too_small_to_show_a_rifle_two_pixels_thick_score_nothing():
    # a rifle ~0.07 m thick on an adult of 1.7 m spans 2 px from 2 * 1.7 / 0.07 = 48.6 px of person height
    assert 2 * 1.7 / 0.07 <= MIN_HEIGHT_PX == WeaponDetector(synthetic_site(())).min_height_px == 50.0
    site = synthetic_site(())
    fr = _walker_frames(site, 4.0)
    heights = []
    probe = WeaponDetector(site, min_height_px=0.0)
    probe.model = _Scripted(lambda k: 0.99)
    for t, o in run(probe, site, fr):
        heights += [o.bbox[3] / BOX_HEIGHT] if o.score > 0 else []
    assert heights, "the walker was never scored"
    lowest, tallest = min(heights), max(heights)
    for min_height, scored in ((tallest + 1.0, False), (lowest - 1.0, True)):
        det = WeaponDetector(site, min_height_px=min_height)
        det.model = _Scripted(lambda k: 0.99)
        assert any(o.score > 0 for _, o in run(det, site, fr)) is scored, min_height


def test_every_n_spreads_the_crops_and_max_crops_caps_them():
    site = synthetic_site(())
    fr = _walker_frames(site, 6.0)
    counts = {}
    for n in (1, 4):
        det = WeaponDetector(site, min_height_px=0.0, every_n=n)
        det.model = _Scripted(lambda k: 0.0)
        run(det, site, fr)
        counts[n] = det.model.calls
    assert counts[4] * 3 <= counts[1] <= counts[4] * 5


def _library_crops(name: str, t_s: float):
    """Crops (no jitter) of the adults in view of library scenario ``name`` (its own evaluation seed) at ``t_s``."""
    from detectors.site import SiteConfig
    from sim.render import Renderer
    from sim.scenario import load_scenario
    from sim.site_export import site_config_dict
    from sim.source import _camera_seed
    from sim.world.model import StationModel
    from train.weapon import _crops_of_frame

    sc = load_scenario(name)
    model = StationModel(sc, seed=sc.seed)
    model.run_until(t_s)
    state = model.world()
    cam = sc.cameras[0]
    image, ann = Renderer(sc, cam, seed=_camera_seed(sc.seed, 0)).render(state, t_s)
    site = SiteConfig.from_dict(site_config_dict(sc, cam.name))
    crops, labels, props = _crops_of_frame(image, ann, state.crowd, site, np.random.default_rng(0), jitter=False)
    return np.stack(crops), np.array(labels), np.array(props)


@pytest.mark.skipif(not os.path.exists(WEIGHTS_FILE), reason="weapon weights not trained")
def test_shipped_classifier_tells_the_raised_rifle_from_the_pointed_umbrella():
    from detectors.weapon import WeaponCNN
    from sim.state import Prop

    net = WeaponCNN()
    threshold = WeaponDetector.default_threshold  # a track's evidence is an average of such probabilities
    crops, labels, _ = _library_crops("concourse_weapon", 25.0)  # the rifle raised to the shoulder
    assert labels.sum() == 1
    p = net.predict(crops)
    assert p[labels == 1][0] > threshold > p[labels == 0].max()
    crops, labels, props = _library_crops("negatives_weapon", 20.0)  # the umbrella pointed like a rifle
    assert labels.sum() == 0 and Prop.UMBRELLA in props
    assert net.predict(crops).max() < threshold


@pytest.mark.skipif(not os.path.exists(WEIGHTS_FILE), reason="weapon weights not trained")
def test_model_card_states_data_command_seed_time_and_validation():
    card = json.loads(open(os.path.splitext(WEIGHTS_FILE)[0] + ".json", encoding="utf-8").read())
    assert card["command"].startswith("stationwatch train weapon")
    assert isinstance(card["seed"], int) and card["train_seconds"] > 0 and card["train_crops"] > 1000
    assert os.path.getsize(WEIGHTS_FILE) < 5 * 2 ** 20 == 5 * 1048576
    from sim.seeds import TRAINING_SEEDS

    assert all(c["seed"] in TRAINING_SEEDS for c in card["data"]["clips"])
    val = card["validation"]
    assert set(val["seeds"]).isdisjoint(TRAINING_SEEDS)
    assert val["cnn"]["roc_auc"] > val["hog_logistic_baseline"]["roc_auc"]


def test_training_pieces_on_a_tiny_setting(tmp_path):
    """Rendered crops from a training seed, a one-epoch fit, the weights loaded back, the baseline."""
    from detectors.weapon import WeaponCNN
    from train.clips import Clip
    from train.weapon import classifier_figures, fit, fit_hog_baseline, render_crops, save

    crops = render_crops([Clip("concourse_weapon", 10_001, {}, 24.0, 25.0, 0.5)], progress=False)
    assert len(crops) >= 4 and crops.image.shape[1:] == (CROP_SIZE[1], CROP_SIZE[0], 3)
    assert 0 < crops.label.sum() < len(crops)
    res = fit(crops, epochs=1, batch=4, progress=False)
    assert res.train_crops == len(crops) and np.isfinite(res.final_loss)
    path = str(tmp_path / "w.pt")
    meta = save(res, path, card={"command": "test"})
    p = WeaponCNN(path).predict(crops.image)
    assert p.shape == (len(crops),) and ((p >= 0) & (p <= 1)).all()
    base = fit_hog_baseline(crops)
    fig = classifier_figures(base(crops.image), crops.label, crops.prop)
    assert fig["crops"] == len(crops) and fig["positives"] == int(crops.label.sum())
    assert json.loads(open(meta).read())["train_crops"] == len(crops)


def test_rendering_training_crops_refuses_evaluation_seeds():
    from sim.seeds import SeedSplitError
    from train.clips import Clip
    from train.weapon import render_crops

    with pytest.raises(SeedSplitError, match="seed 901 is a held-out seed"):
        render_crops([Clip("concourse_weapon", 901, {}, 3.0, 4.0, 0.5)], progress=False)


def test_a_broken_track_continues_its_instance_and_a_person_elsewhere_does_not():
    """A walker hidden for 2.5 s (longer than the tracker coasts) comes back under a new track id on
    the line they walked: the same instance key (no second alert for one person), by the track
    links or by the memory of an armed person; a second walker 4 m away is another instance."""
    site = synthetic_site(())
    hidden = (3.0, 5.5)

    def draw(img, t):
        if not hidden[0] <= t < hidden[1]:
            draw_block(img, site, (6.0 + 1.0 * t, 4.0), height_m=1.7, width_m=0.5, colour=(40, 40, 200))
        if t >= 4.0:
            draw_block(img, site, (6.0 + 1.0 * t, 8.0), height_m=1.7, width_m=0.5, colour=(200, 60, 40))
    fr = frames(site, draw, 9.0)
    d = WeaponDetector(site)
    assert d.hold_m < 4.0 and 2.5 < d.link_s and 2.5 < d.hold_s
    same = {}
    for link_s, hold_s in ((0.0, 0.0), (d.link_s, 0.0), (0.0, d.hold_s)):
        det = WeaponDetector(site, min_height_px=0.0, link_s=link_s, hold_s=hold_s)
        det.model = _Scripted(lambda k: 0.99)
        seen = [(t, [(i.key, i.bbox) for i in o.instances]) for t, o in run(det, site, fr)]
        first = {k for t, inst in seen if t < hidden[0] for k, _ in inst}
        after = [inst for t, inst in seen if t >= hidden[1] + 0.5]
        assert len(first) == 1 and all(len(inst) == 2 for inst in after[-10:])
        # the instance on the first walker's line (nearer the camera: the lower box) after the break
        back = {max(inst, key=lambda kb: kb[1][1] + kb[1][3])[0] for inst in after[-10:]}
        other = {min(inst, key=lambda kb: kb[1][1] + kb[1][3])[0] for inst in after[-10:]}
        assert len(back) == 1 and back.isdisjoint(other) and other.isdisjoint(first)
        same[(link_s, hold_s)] = back == first
    # without links nor memory the tracker's new id is a new instance; either one keeps the walker one instance
    assert same == {(0.0, 0.0): False, (d.link_s, 0.0): True, (0.0, d.hold_s): True}


def test_batch_norms_folded_into_the_convolutions_give_the_same_probabilities():
    """The inference copy (nets.fuse_batchnorm) against the network as trained, on random crops and a
    network with random batch statistics (the shipped weights' ones would hide a wrong fold if near 0 and 1)."""
    import torch

    from detectors.nets import fuse_batchnorm
    from detectors.weapon import build_net, net_input

    torch.manual_seed(0)
    net = build_net()
    for m in net:
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.3, 0.3)
    net.eval()
    with pytest.raises(ValueError, match="eval mode"):
        fuse_batchnorm(build_net())
    fused = fuse_batchnorm(net)
    n_bn = sum(isinstance(m, torch.nn.BatchNorm2d) for m in net)
    assert n_bn == 4 and not any(isinstance(m, torch.nn.BatchNorm2d) for m in fused)
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in net) == 4  # the trained network is left as it was
    x = net_input(np.random.default_rng(1).integers(0, 256, (5, CROP_SIZE[1], CROP_SIZE[0], 3), np.uint8))
    with torch.inference_mode():
        a, b = net(x), fused(x)
    assert a.shape == b.shape == (5, 1)
    assert float((a - b).abs().max()) < 1e-4 * max(1.0, float(a.abs().max()))


def test_flat_forward_computes_the_same_floats_as_the_network():
    """nets.flat_forward (the layers' functional operations called directly) against the modules, exactly,
    on the network as trained (its batch norms called as modules) and on the folded inference copy."""
    import torch

    from detectors.nets import flat_forward, fuse_batchnorm
    from detectors.weapon import build_net, net_input

    torch.manual_seed(0)
    with pytest.raises(ValueError, match="eval mode"):
        flat_forward(build_net())
    net = build_net().eval()
    fused = fuse_batchnorm(net)
    x = net_input(np.random.default_rng(2).integers(0, 256, (3, CROP_SIZE[1], CROP_SIZE[0], 3), np.uint8))
    with torch.inference_mode():
        for module in (net, fused):
            a, b = module(x), flat_forward(module)(x)
            assert a.shape == b.shape == (3, 1)
            assert float((a - b).abs().max()) == 0.0


@pytest.mark.parametrize("height_m, scored", [
    (1.7, True),  # standing: its box is about the adult height at its foot, above 0.6 of it
    (0.8, False),  # seated on the floor: 0.8 / 1.7 = 0.47 of the adult height, under min_box_ratio 0.6
])
def test_a_person_sitting_on_the_floor_is_not_classified(height_m, scored):
    site = synthetic_site(())

    def draw(img, t):
        draw_block(img, site, (6.0 + 1.0 * t, 4.0), height_m=height_m, width_m=0.5, colour=(40, 40, 200))

    fr = frames(site, draw, 5.0)
    det = WeaponDetector(site, min_height_px=0.0)
    assert det.min_box_ratio == 0.6 and 0.8 / 1.7 < det.min_box_ratio < 1.0
    det.model = _Scripted(lambda k: 0.99)
    assert any(o.score > 0 for _, o in run(det, site, fr)) is scored
    # the same person with the rule off: tracked and classified, so the rule alone left them out
    off = WeaponDetector(site, min_height_px=0.0, min_box_ratio=0.0)
    off.model = _Scripted(lambda k: 0.99)
    assert any(o.score > 0 for _, o in run(off, site, fr))
    with pytest.raises(ValueError, match="min_box_ratio must be a number in"):
        WeaponDetector(site, min_box_ratio=1.5)


@pytest.mark.parametrize("foot_y_m, cut_margin_px, scored", [
    (-1.5, 2.0, False),  # cut by the bottom edge (foot at row 193 of 180, 0.66 of them in view): not classified
    (-1.5, -1.0, True),  # the same person, the rule off: tracked and classified, so the rule alone left them out
    (0.5, 2.0, True),  # feet in the picture (row 152): classified
])
def test_a_person_cut_by_the_bottom_edge_is_not_classified(foot_y_m, cut_margin_px, scored):
    site = synthetic_site(())  # 320 x 180
    foot = site.ground_to_image(np.array([[6.0, foot_y_m]]))[0]
    assert (foot[1] > site.image_size[1]) is not scored or cut_margin_px < 0

    def draw(img, t):
        draw_block(img, site, (6.0 + 1.0 * t, foot_y_m), height_m=1.7, width_m=0.5, colour=(40, 40, 200))

    det = WeaponDetector(site, min_height_px=0.0, cut_margin_px=cut_margin_px)
    det.model = _Scripted(lambda k: 0.99)
    assert any(o.score > 0 for _, o in run(det, site, frames(site, draw, 5.0))) is scored
    with pytest.raises(ValueError, match="cut_margin_px must be a finite number; got nan"):
        WeaponDetector(site, cut_margin_px=float("nan"))


@pytest.mark.parametrize("prob, alarms", [
    (0.96, False),  # a bystander's run of sure-looking crops (0.93 to 0.97 beside a fallen person): below 0.97
    (0.99, True),  # a rifle carrier's crops (0.99 and above)
])
def test_a_run_of_crops_short_of_a_rifle_carriers_certainty_does_not_alarm(prob, alarms):
    site = synthetic_site(())
    det = WeaponDetector(site, min_height_px=0.0)
    assert det.default_threshold == 0.97
    det.model = _Scripted(lambda k: prob)
    best = max(o.score for _, o in run(det, site, _walker_frames(site)))
    assert best == pytest.approx(prob, abs=1e-3)  # the score settles on what every crop says
    assert (best >= det.default_threshold) is alarms
