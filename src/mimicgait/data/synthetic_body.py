"""A parametric walking human: body measurements, sagittal gait kinematics and solid capsule parts.

The synthetic gait generator needs people who differ from each other the way real people do (body
proportions and their own way of walking) while one person's walks differ only a little. This
module holds that model, independent of any camera:

- `SubjectParams`: one person's body and walk, drawn by `sample_subject` from plausible human
  ranges (segment lengths as fractions of stature, after anthropometric tables; joint angle curves
  as Fourier series fitted to textbook sagittal gait kinematics, perturbed per person).
- `WalkParams`: what changes between two recordings of the same person (speed, start phase, a bit
  of stride and arm swing, heading), plus whether a bag or a coat is worn; `sample_walk`.
- `body_capsules`: the 3D solid parts of every frame as capsules (segment end points and radius),
  ready for the renderer in `mimicgait.data.rasterise`.

Coordinates are metres in a body-centred frame: x forward (walking direction), y up, z to the
walker's right. Forward progression is left out: the pretreatment crops and centres the person,
so it would have no effect on the silhouettes.

Size: over 300 lines because the body's measurements, its gait curves and the capsules they drive
are one model whose numbers are tuned against each other; split, neither half reads alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mimicgait.errors import UserError

FPS = 25.0  # CASIA-B frame rate
HARMONICS = 5  # Fourier terms per joint angle curve

# Textbook sagittal joint angles over one gait cycle (phase 0 = heel strike of this leg), degrees.
# Hip: flexion +; knee: flexion + (loading-response bump near 15 %, swing peak near 72 %);
# ankle: dorsiflexion + (push-off plantarflexion near toe-off at 62 %).
_KNOTS = {
    "hip": [(0.00, 30), (0.10, 26), (0.30, 6), (0.50, -10), (0.58, -6), (0.70, 14), (0.85, 33), (0.93, 32)],
    "knee": [
        (0.00, 4),
        (0.15, 18),
        (0.30, 9),
        (0.42, 5),
        (0.50, 9),
        (0.60, 38),
        (0.72, 62),
        (0.85, 36),
        (0.95, 6),
    ],
    "ankle": [(0.00, 0), (0.07, -6), (0.30, 6), (0.45, 10), (0.55, 0), (0.62, -17), (0.75, -3), (0.90, 1)],
}

BAG_KINDS = ("shoulder", "backpack", "hand")


def fourier_basis(phase: np.ndarray, harmonics: int = HARMONICS) -> np.ndarray:
    """Columns 1, cos(2 pi k phase), sin(2 pi k phase) for k = 1..harmonics: [n, 2 * harmonics + 1]."""
    k = np.arange(1, harmonics + 1)
    angle = 2 * np.pi * np.asarray(phase, dtype=np.float64)[:, None] * k  # [n, h]
    cols = np.empty((angle.shape[0], 2 * harmonics + 1))
    cols[:, 0] = 1.0
    cols[:, 1::2] = np.cos(angle)
    cols[:, 2::2] = np.sin(angle)
    return cols


def _fit_knots(knots: list[tuple[float, float]], harmonics: int = HARMONICS) -> np.ndarray:
    """Least-squares Fourier fit of a periodic, linearly interpolated knot curve: [2h+1] coefficients."""
    xs = np.array([p for p, _ in knots] + [knots[0][0] + 1.0])
    ys = np.array([v for _, v in knots] + [knots[0][1]], dtype=np.float64)
    phase = np.linspace(0.0, 1.0, 400, endpoint=False)
    curve = np.interp(phase, xs, ys)
    coef, *_ = np.linalg.lstsq(fourier_basis(phase, harmonics), curve, rcond=None)
    return coef


# Population-mean curves, fitted once at import (a few microseconds of linear algebra).
MEAN_CURVES = {name: _fit_knots(knots) for name, knots in _KNOTS.items()}


@dataclass
class SubjectParams:
    """One synthetic person: body measurements (metres), walk style (degrees, seconds) and belongings."""

    height: float
    # segment lengths
    torso: float  # pelvis centre to neck base
    neck: float
    head_radius: float
    shoulder_width: float  # between shoulder joints
    hip_width: float  # between hip joints
    upper_arm: float
    forearm: float  # elbow to the middle of the hand
    thigh: float
    shank: float
    foot: float
    ankle_height: float
    step_width: float  # lateral distance between the feet
    # solid part radii
    r_torso: float  # half the chest depth
    r_pelvis: float
    r_neck: float
    r_upper_arm: float
    r_forearm: float
    r_thigh: float
    r_shank: float
    belly: float  # forward bulge of the abdomen
    # walk
    cycle_s: float  # duration of one gait cycle
    hip_coef: np.ndarray = field(repr=False)  # [2h+1] Fourier coefficients, degrees
    knee_coef: np.ndarray = field(repr=False)
    ankle_coef: np.ndarray = field(repr=False)
    knee_phase: float = 0.0  # timing offsets of knee and ankle against the hip, cycles
    ankle_phase: float = 0.0
    arm_swing: float = 20.0  # shoulder flexion half-range
    arm_offset: float = 0.0  # mean shoulder flexion
    arm_phase: float = 0.0
    arm_abduction: float = 8.0
    elbow_flex: float = 15.0  # mean elbow flexion
    elbow_swing: float = 10.0
    trunk_lean: float = 3.0  # forward lean of the trunk
    trunk_sway: float = 2.0  # lateral trunk tilt half-range
    pelvis_rotation: float = 5.0  # transverse pelvis rotation half-range
    head_tilt: float = 5.0  # forward head tilt
    toe_out: float = 7.0
    # belongings, the same in both bg (or both cl) recordings as in CASIA-B
    bag_kind: str = "shoulder"
    bag_side: float = 1.0  # +1 right, -1 left
    bag_size: float = 0.12
    coat_length: float = 0.9  # hem position along the thigh, 0 = hip, 1 = knee
    coat_flare: float = 0.05  # extra radius of the coat around the thighs
    coat_thickness: float = 0.025


@dataclass
class WalkParams:
    """One recording of a subject: the within-subject variation and the carrying / clothing state."""

    cycle_s: float
    phase0: float  # gait phase at the first frame, cycles
    stride: float  # multiplier of the hip and knee curve ranges
    arm_swing: float
    trunk_lean: float
    heading: float  # deviation of the walking direction from the nominal path, degrees
    bag: bool = False
    coat: bool = False


def _perturb_curve(
    rng: np.random.Generator, coef: np.ndarray, offset_sd: float, amp_sd: float, phase_sd: float
) -> np.ndarray:
    """A person's version of a mean joint curve: shifted, each harmonic rescaled and re-timed."""
    out = coef.copy()
    out[0] += rng.normal(0.0, offset_sd)
    for k in range(1, HARMONICS + 1):
        a, b = out[2 * k - 1], out[2 * k]
        scale = 1.0 + rng.normal(0.0, amp_sd * (1.0 if k == 1 else 1.6))
        turn = rng.normal(0.0, phase_sd * k**0.5)
        c, s = np.cos(turn), np.sin(turn)
        out[2 * k - 1], out[2 * k] = scale * (a * c - b * s), scale * (a * s + b * c)
    return out


def sample_subject(rng: np.random.Generator) -> SubjectParams:
    """Draw one person from plausible adult ranges; segment lengths follow stature with individual noise."""

    def frac(mean: float, sd: float = 0.05) -> float:
        return float(mean * (1.0 + rng.normal(0.0, sd)))

    h = float(np.clip(rng.normal(1.70, 0.09), 1.45, 1.98))
    build = float(np.clip(rng.normal(1.0, 0.13), 0.7, 1.45))  # overall girth

    def radius(mean_frac: float, sd: float = 0.08) -> float:
        return float(h * mean_frac * build * (1.0 + rng.normal(0.0, sd)))

    thigh, shank = frac(0.245) * h, frac(0.246) * h
    leg_len = thigh + shank
    stride = float(np.clip(rng.normal(1.0, 0.12), 0.65, 1.4))
    return SubjectParams(
        height=h,
        torso=frac(0.30) * h,
        neck=frac(0.045, 0.12) * h,
        head_radius=frac(0.062, 0.06) * h,
        shoulder_width=frac(0.215, 0.07) * h,
        hip_width=frac(0.105, 0.08) * h,
        upper_arm=frac(0.186) * h,
        forearm=frac(0.20) * h,
        thigh=thigh,
        shank=shank,
        foot=frac(0.15) * h,
        ankle_height=frac(0.039, 0.1) * h,
        step_width=float(np.clip(rng.normal(0.09, 0.025), 0.02, 0.18)),
        r_torso=radius(0.064),
        r_pelvis=radius(0.058),
        r_neck=radius(0.028),
        r_upper_arm=radius(0.024),
        r_forearm=radius(0.019),
        r_thigh=radius(0.040),
        r_shank=radius(0.027),
        belly=float(max(0.0, rng.normal(0.01, 0.025)) * build * h / 1.7),
        cycle_s=float(np.clip(rng.normal(1.06, 0.07) * (leg_len / (0.49 * h)) ** 0.5, 0.85, 1.35)),
        hip_coef=_scale_range(_perturb_curve(rng, MEAN_CURVES["hip"], 4.0, 0.10, 0.05), stride),
        knee_coef=_scale_range(_perturb_curve(rng, MEAN_CURVES["knee"], 3.0, 0.08, 0.05), 0.6 + 0.4 * stride),
        ankle_coef=_perturb_curve(rng, MEAN_CURVES["ankle"], 3.0, 0.15, 0.08),
        knee_phase=float(rng.normal(0.0, 0.015)),
        ankle_phase=float(rng.normal(0.0, 0.02)),
        arm_swing=float(np.clip(rng.normal(18.0, 7.0), 3.0, 40.0)),
        arm_offset=float(rng.normal(0.0, 5.0)),
        arm_phase=float(rng.normal(0.0, 0.03)),
        arm_abduction=float(np.clip(rng.normal(9.0, 3.0), 2.0, 20.0)),
        elbow_flex=float(np.clip(rng.normal(18.0, 8.0), 3.0, 50.0)),
        elbow_swing=float(np.clip(rng.normal(12.0, 6.0), 0.0, 35.0)),
        trunk_lean=float(rng.normal(3.0, 3.0)),
        trunk_sway=float(np.clip(rng.normal(2.5, 1.2), 0.0, 7.0)),
        pelvis_rotation=float(np.clip(rng.normal(5.0, 2.0), 0.0, 12.0)),
        head_tilt=float(rng.normal(5.0, 5.0)),
        toe_out=float(rng.normal(7.0, 4.0)),
        bag_kind=str(rng.choice(BAG_KINDS)),
        bag_side=float(rng.choice([-1.0, 1.0])),
        bag_size=float(np.clip(rng.normal(0.12, 0.03), 0.06, 0.2)),
        coat_length=float(rng.uniform(0.6, 1.05)),
        coat_flare=float(rng.uniform(0.03, 0.11)),
        coat_thickness=float(rng.uniform(0.02, 0.05)),
    )


def _scale_range(coef: np.ndarray, factor: float) -> np.ndarray:
    """Scale a curve's range (all harmonics) around its mean."""
    out = coef.copy()
    out[1:] *= factor
    return out


def sample_walk(subject: SubjectParams, condition: str, rng: np.random.Generator) -> WalkParams:
    """Draw one recording of `subject`; `condition` such as 'bg-01' sets the bag ('bg') or coat ('cl')."""
    kind = condition.split("-")[0]
    if kind not in ("nm", "bg", "cl"):
        raise UserError(f"condition {condition!r}: expected nm-NN, bg-NN or cl-NN")
    speed = float(np.clip(rng.normal(1.0, 0.04), 0.85, 1.15))
    return WalkParams(
        cycle_s=subject.cycle_s / speed,
        phase0=float(rng.uniform(0.0, 1.0)),
        stride=float(np.clip(rng.normal(1.0, 0.04) * speed**0.5, 0.8, 1.2)),
        arm_swing=float(max(0.0, subject.arm_swing * rng.normal(1.0, 0.12))),
        trunk_lean=float(subject.trunk_lean + rng.normal(0.0, 1.0)),
        heading=float(rng.normal(0.0, 3.0)),
        bag=kind == "bg",
        coat=kind == "cl",
    )


def _curve(coef: np.ndarray, phase: np.ndarray, stride: float = 1.0) -> np.ndarray:
    """Joint angle in radians at each phase: [T]."""
    scaled = coef.copy()
    scaled[1:] *= stride
    return np.radians(fourier_basis(phase) @ scaled)


def _rot_y(angle: np.ndarray) -> np.ndarray:
    """Rotations about the vertical axis (positive turns +x towards -z): [T, 3, 3]."""
    c, s = np.cos(angle), np.sin(angle)
    z, o = np.zeros_like(angle), np.ones_like(angle)
    return np.stack([np.stack([c, z, s], -1), np.stack([z, o, z], -1), np.stack([-s, z, c], -1)], -2)


def _forwardness(s: SubjectParams, phase: np.ndarray) -> np.ndarray:
    """The right hip's flexion rescaled to about [-1, 1]: [T]."""
    grid = fourier_basis(np.linspace(0.0, 1.0, 50, endpoint=False)) @ s.hip_coef
    half = max(float(np.ptp(grid)) / 2, 1e-6)
    return (fourier_basis(phase) @ s.hip_coef - s.hip_coef[0]) / half


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def _leg(s: SubjectParams, walk: WalkParams, phase: np.ndarray, hip: np.ndarray, side: float):
    """Knee, ankle, heel and toe positions of one leg: each [T, 3]."""
    th_h = _curve(s.hip_coef, phase, walk.stride)  # [T]
    th_k = _curve(s.knee_coef, phase + s.knee_phase, 0.6 + 0.4 * walk.stride)
    th_a = _curve(s.ankle_coef, phase + s.ankle_phase)
    shank_ang = th_h - th_k
    foot_ang = shank_ang + th_a + np.pi / 2  # foot direction from the +x axis, toes up when positive
    ankle_z = side * s.step_width / 2
    z_knee = hip[:, 2] + (ankle_z - hip[:, 2]) * s.thigh / (s.thigh + s.shank)
    knee = hip + s.thigh * np.stack([np.sin(th_h), -np.cos(th_h), np.zeros_like(th_h)], -1)
    knee[:, 2] = z_knee
    ankle = knee + s.shank * np.stack([np.sin(shank_ang), -np.cos(shank_ang), np.zeros_like(th_h)], -1)
    ankle[:, 2] = ankle_z
    toe_out = np.radians(s.toe_out) * side
    fdir = np.stack(
        [np.sin(foot_ang) * np.cos(toe_out), -np.cos(foot_ang), np.sin(foot_ang) * np.sin(toe_out)], -1
    )  # [T, 3]
    down = np.stack([-np.cos(foot_ang), -np.sin(foot_ang), np.zeros_like(th_h)], -1)  # sole side of the foot
    r_foot = s.ankle_height * 0.55
    heel = ankle + down * (s.ankle_height - r_foot) - fdir * (0.18 * s.foot - r_foot)
    toe = heel + fdir * (s.foot - 2 * r_foot)
    return knee, ankle, heel, toe, r_foot


def _arm(
    s: SubjectParams,
    walk: WalkParams,
    swing: np.ndarray,
    shoulder: np.ndarray,
    side: float,
    swing_scale: float = 1.0,
):
    """Elbow and wrist positions of one arm: [T, 3] each. `swing` in [-1, 1] is the arm's cycle."""
    th_s = np.radians(s.arm_offset + walk.arm_swing * swing_scale * swing)  # [T]
    th_e = np.radians(s.elbow_flex + s.elbow_swing * swing_scale * (swing + 1) / 2)
    ab = np.radians(s.arm_abduction)
    upper = np.stack(
        [np.sin(th_s) * np.cos(ab), -np.cos(th_s) * np.cos(ab), side * np.sin(ab) * np.ones_like(th_s)], -1
    )
    fore_ang = th_s + th_e
    fore = np.stack(
        [
            np.sin(fore_ang) * np.cos(ab),
            -np.cos(fore_ang) * np.cos(ab),
            side * np.sin(ab) * np.ones_like(th_s),
        ],
        -1,
    )
    elbow = shoulder + s.upper_arm * upper
    wrist = elbow + s.forearm * fore
    return elbow, wrist


def body_capsules(
    s: SubjectParams, walk: WalkParams, frames: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The solid parts of `frames` consecutive frames as capsules.

    Returns start points [T, K, 3], end points [T, K, 3] and radii [K] (metres); a capsule is every
    point within its radius of the segment. K depends on the bag and coat of the walk.
    """
    t = np.arange(frames, dtype=np.float64)
    phase = walk.phase0 + t / (walk.cycle_s * FPS)  # [T] right-leg phase, cycles
    zeros = np.zeros(frames)
    up = np.array([0.0, 1.0, 0.0])

    # Pelvis: transverse rotation in step with the right hip (its flexion leads), lateral shift to the
    # stance leg.
    right_fwd = _forwardness(s, phase)  # about +1 when the right leg is forward
    psi = np.radians(s.pelvis_rotation) * right_fwd  # [T]
    pelvis = np.stack([zeros, zeros, 0.02 * np.sin(2 * np.pi * (phase - 0.15))], -1)  # [T, 3]
    rot_p = _rot_y(psi)  # turns the right hip forward when psi > 0
    hips = {side: pelvis + rot_p @ np.array([0.0, 0.0, side * s.hip_width / 2]) for side in (1.0, -1.0)}

    # Trunk: forward lean, lateral tilt towards the stance side, counter-rotation of the shoulders.
    lean = np.radians(walk.trunk_lean + 1.0 * np.cos(4 * np.pi * phase))
    tilt = np.radians(s.trunk_sway) * np.sin(2 * np.pi * (phase - 0.1))
    spine = _unit(np.stack([np.sin(lean), np.cos(lean) * np.cos(tilt), np.sin(tilt)], -1))  # [T, 3]
    neck_base = pelvis + s.torso * spine
    rot_s = _rot_y(-0.5 * psi)  # the thorax turns against the pelvis
    shoulder_drop = 0.06 * s.torso
    shoulders = {
        side: neck_base - shoulder_drop * spine + rot_s @ np.array([0.0, 0.0, side * s.shoulder_width / 2])
        for side in (1.0, -1.0)
    }
    head_dir = _unit(spine + np.radians(s.head_tilt) * np.array([1.0, 0.0, 0.0]))
    head = neck_base + (s.neck + s.head_radius) * head_dir

    caps: list[tuple[np.ndarray, np.ndarray, float]] = []

    def add(a: np.ndarray, b: np.ndarray, r: float) -> None:
        caps.append((np.broadcast_to(a, (frames, 3)), np.broadcast_to(b, (frames, 3)), r))

    coat = walk.coat
    extra = s.coat_thickness if coat else 0.0
    sleeve = 0.5 * s.coat_thickness if coat else 0.0

    # Head, neck, torso (upright capsules side by side give the frontal width, their radius the depth), belly.
    add(head - 0.25 * s.head_radius * head_dir, head + 0.2 * s.head_radius * head_dir, s.head_radius)
    add(neck_base - 0.3 * s.neck * spine, head - 0.5 * s.head_radius * head_dir, s.r_neck + 0.5 * extra)
    r_torso = s.r_torso + extra
    chest_half = max(0.01, s.shoulder_width / 2 - r_torso * 0.8)
    waist_half = max(0.01, s.hip_width / 2 + s.r_pelvis - r_torso)
    for side in (1.0, -1.0):
        lat_s = rot_s @ np.array([0.0, 0.0, side])
        lat_p = rot_p @ np.array([0.0, 0.0, side])
        add(
            pelvis + 0.12 * s.torso * spine + waist_half * lat_p,
            neck_base - 1.1 * shoulder_drop * spine + chest_half * lat_s,
            r_torso,
        )
    add(pelvis + 0.12 * s.torso * spine, neck_base - 1.1 * shoulder_drop * spine, r_torso)  # fills the middle
    fwd = rot_p @ np.array([1.0, 0.0, 0.0])
    add(
        pelvis + 0.25 * s.torso * spine + s.belly * fwd,
        pelvis + 0.5 * s.torso * spine + 0.5 * s.belly * fwd,
        0.85 * r_torso,
    )
    add(hips[1.0] - 0.02 * fwd + 0.02 * up, hips[-1.0] - 0.02 * fwd + 0.02 * up, s.r_pelvis + 0.5 * extra)
    add(shoulders[1.0], shoulders[-1.0], s.r_upper_arm + sleeve)

    # Legs.
    hem = []
    for side in (1.0, -1.0):
        leg_phase = phase if side > 0 else phase + 0.5
        knee, ankle, heel, toe, r_foot = _leg(s, walk, leg_phase, hips[side], side)
        add(hips[side], knee, s.r_thigh)
        add(knee, ankle, s.r_shank)
        add(heel, toe, r_foot)
        hem.append(hips[side] + s.coat_length * (knee - hips[side]))
        if coat:
            add(hips[side] + 0.1 * s.torso * spine, hem[-1], s.r_thigh + s.coat_flare)

    # Arms: each swings against the leg of its own side; a hand bag damps its arm's swing.
    swing = -_forwardness(s, phase + s.arm_phase)  # right arm forward when the right leg is back
    wrists: dict[float, np.ndarray] = {}
    for side in (1.0, -1.0):
        damp = 0.3 if (walk.bag and s.bag_kind == "hand" and side == s.bag_side) else 1.0
        elbow, wrist = _arm(s, walk, swing * side, shoulders[side], side, damp)
        add(shoulders[side], elbow, s.r_upper_arm + sleeve)
        add(elbow, wrist, s.r_forearm + sleeve)
        wrists[side] = wrist

    if coat:  # the skirt of the coat fills the gap between the thighs
        add(pelvis + 0.05 * s.torso * spine, (hem[0] + hem[1]) / 2, s.r_thigh + s.coat_flare)

    if walk.bag:
        _add_bag(s, phase, pelvis, spine, fwd, rot_p, wrists, r_torso, add)

    a = np.stack([c[0] for c in caps], 1)  # [T, K, 3]
    b = np.stack([c[1] for c in caps], 1)
    r = np.array([c[2] for c in caps])  # [K]
    heading = _rot_y(np.radians(np.full(1, walk.heading)))[0]
    return a @ heading.T, b @ heading.T, r


def _add_bag(
    s: SubjectParams,
    phase: np.ndarray,
    pelvis: np.ndarray,
    spine: np.ndarray,
    fwd: np.ndarray,
    rot_p: np.ndarray,
    wrists: dict[float, np.ndarray],
    r_torso: float,
    add: Callable[[np.ndarray, np.ndarray, float], None],
) -> None:
    """Append the subject's bag: at the hip on a shoulder strap, on the back, or hanging from a hand."""
    size = s.bag_size
    if s.bag_kind == "shoulder":
        lat = rot_p @ np.array([0.0, 0.0, s.bag_side])
        centre = pelvis + 0.1 * s.torso * spine + (s.hip_width / 2 + s.r_pelvis + 0.7 * size) * lat
        centre = centre + 0.03 * np.sin(2 * np.pi * phase)[:, None] * fwd  # it swings a little
        add(centre - 1.3 * size * fwd, centre + 1.3 * size * fwd, 0.8 * size)
    elif s.bag_kind == "backpack":
        back = -(r_torso + 0.8 * size) * fwd
        for side in (1.0, -1.0):
            lat = rot_p @ np.array([0.0, 0.0, side * 0.5 * size])
            add(
                pelvis + 0.35 * s.torso * spine + back + lat,
                pelvis + 0.8 * s.torso * spine + back + lat,
                size,
            )
    else:
        wrist = wrists[s.bag_side]
        add(wrist + np.array([0.0, -0.8 * size, 0.0]), wrist + np.array([0.0, -1.8 * size, 0.0]), 0.9 * size)
