"""Online distillation (OMGD) with content relationships (CRD) and the teacher discriminator schemes.

OMGD {cite:p}`ren2021online` does not distil from a finished teacher: the
teacher generator and its discriminator train *from scratch, together with*
the student.  Every step (:class:`OnlineDistillObjective`, run by the one
:class:`~gancomp_lite.training.loop.Trainer`):

1. the teacher's own objective (pix2pix or CycleGAN) updates its
   discriminator and its generator, as if no student existed;
2. each student is updated on the teacher's output of this step, detached:
   the student never sees the real target, and its loss never reaches the
   teacher.

CRD {cite:p}`you2022exploring` keeps this schedule and changes the student's
loss (:class:`StudentLoss`): relations between rows, columns and patches of
the output images (:mod:`gancomp_lite.losses.relations`), OMGD's perceptual
terms (:mod:`gancomp_lite.losses.perceptual`), and an adversarial term
through the **online teacher discriminator**: the teacher's D, trained only in
the teacher's steps and frozen in the student's.  The alternatives CRD's
Table 6 compares are the other :data:`SCHEMES`:

* ``online-frozen`` (CRD's): online teacher and D; D judges the student but
  is never updated on its outputs;
* ``online-updating``: online teacher and D; D is also trained to reject the
  student's outputs;
* ``pretrained-frozen`` / ``pretrained-updating``: a finished (shipped)
  teacher and its D, the D frozen or trained on the student's outputs (GAN
  Compression's inherited discriminator);
* ``none``: online teacher, no adversarial term for the student (OMGD).

Several students may share one online teacher (each its own optimizer
group ``S:<name>``): arms that differ only in the student's loss then see
the same teacher trajectory, and the teacher is trained once.  Schemes that
train D on the student's outputs take exactly one student.

On paired tasks OMGD trains a second, *deep* teacher beside the wide one
(:class:`TwoTeacherPix2PixObjective`: OMGD's ``MobileResnetDeepestGenerator``
at the student's width, both teachers judged by one discriminator whose first
stages they share); every student term that compares the student with the
teacher's output is then summed over the two teachers, as OMGD's code sums
them (the book's colour anchor, which OMGD has not, is averaged), and the
channel term reads the wide teacher only.  ``build_online``'s
``deep_teacher_ngf`` (``distill-online --deep-teacher-ngf``) adds it.

Explained in chapter ``nb/08_crd``.
"""
from __future__ import annotations

import copy
from pathlib import Path
from dataclasses import dataclass, field, asdict, replace
from typing import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import GancompError
from ..losses.distill import ChannelDistillLoss
from ..losses.gan import GANLoss
from ..losses.perceptual import Backbone, PerceptualLoss, PerceptualWeights
from ..losses.relations import CONTENT_SETS, OFFICIAL_WEIGHTS, content_relation_loss
from ..models.hooks import capture_features, feature_shapes
from .loop import Trainer
from .objectives import Context, CycleGANObjective, Objective, Pix2PixObjective

SCHEMES = ("online-frozen", "online-updating", "pretrained-frozen", "pretrained-updating", "none")
METHODS = ("crd", "omgd")


@dataclass(frozen=True)
class StudentLoss:
    """What one student is trained with (every weight 0 turns its term off).

    Args:
        relations: the relation sets (``rows``, ``columns``, ``patches`` or
            ``instance``); empty for none.
        relation_weight: weight of each set's RKD loss (CRD: 25 CycleGAN,
            2.5 pix2pix).
        w_distance, w_angle: inside RKD (official 1 and 2).
        patch_size: patch side; ``None``: 32 at 256x256, scaled.
        reduction: over the batch, ``mean`` or ``sum`` (official pix2pix).
        perceptual: OMGD's SSIM, style, feature and TV weights.
        channel: OMGD's channel distillation weight (lambda_CD).
        gan: weight of the adversarial term through the discriminator.
        anchor: weight of the pixel L1 between the student's and the
            teacher's output images (a colour anchor; in neither paper, see
            :data:`CI_ANCHOR`).
    """

    relations: tuple[str, ...] = CONTENT_SETS
    relation_weight: float = 25.0
    w_distance: float = OFFICIAL_WEIGHTS["distance"]
    w_angle: float = OFFICIAL_WEIGHTS["angle"]
    patch_size: int | None = None
    reduction: str = "mean"
    perceptual: PerceptualWeights = field(default_factory=PerceptualWeights)
    channel: float = 0.0
    gan: float = 1.0
    anchor: float = 0.0

    def as_dict(self) -> dict:
        d = asdict(self)
        d["relations"] = list(self.relations)
        return d

    def with_(self, **changes) -> "StudentLoss":
        if "relations" in changes:
            changes["relations"] = tuple(changes["relations"])
        return replace(self, **changes)


#: the official student losses (CRD and OMGD code; official-implementations §4.3, §4.4)
PRESETS: dict[str, StudentLoss] = {
    # CRD CycleGAN: 25 x RKD of rows, columns, patches; style 1e4, feature 10; LSGAN through frozen D_A
    "crd-cyclegan": StudentLoss(relation_weight=25.0, perceptual=PerceptualWeights(style=1e4, feature=10.0),
                                gan=1.0),
    # CRD pix2pix: 2.5 x RKD summed over the batch; style 2 x 1e4 and feature 2 x 10 (its code
    # multiplies 2 by the script's --AGD_weights 1e4 and 10); no GAN term
    "crd-pix2pix": StudentLoss(relation_weight=2.5, reduction="sum",
                               perceptual=PerceptualWeights(style=2e4, feature=20.0), gan=0.0),
    # OMGD: SSIM 10, style 1e4, feature 10, TV 1e-5; channel distillation (h2z 500, e2s S16 100); no GAN
    "omgd-cyclegan": StudentLoss(relations=(), perceptual=PerceptualWeights(10.0, 1e4, 10.0, 1e-5),
                                 channel=500.0, gan=0.0),
    "omgd-pix2pix": StudentLoss(relations=(), perceptual=PerceptualWeights(10.0, 1e4, 10.0, 1e-5),
                                channel=100.0, gan=0.0),
}


#: the weight of the colour anchor (:attr:`StudentLoss.anchor`) that the presets get on the
#: offline ``ci`` backbone: pix2pix's L1 weight, the weight the online teacher itself gives to
#: pixel agreement with its target.  A deviation from both papers (chapter 08,
#: ``sec-crd-anchor``): their style and feature weights were set on ImageNet VGG16 at 256x256,
#: whose relu2_2 features tie a pixel's colour to the teacher's.  On the ``ci`` backbone the
#: feature term carries 1-2% of the student's gradient and the style term 60-85% of it, and
#: every relation term is blind to a scale or inversion of the colours: without an anchor the
#: students end worse than the mean target image.
CI_ANCHOR = 100.0
#: the backbones on which :func:`preset` adds the anchor
ANCHORED_BACKBONES = ("synthetic",)


def preset(name: str, backbone: str | None = None) -> StudentLoss:
    """The official student loss called ``name`` (see :data:`PRESETS`); on a
    backbone of :data:`ANCHORED_BACKBONES` (the offline ``ci`` one) with the
    colour anchor :data:`CI_ANCHOR` added, the book's stated deviation."""
    if name not in PRESETS:
        raise GancompError(f"unknown online-distillation preset {name!r}; choose from {sorted(PRESETS)}")
    loss = PRESETS[name]
    return loss.with_(anchor=CI_ANCHOR) if backbone in ANCHORED_BACKBONES else loss


def default_preset(method: str, task_kind: str) -> str:
    """``crd-cyclegan``, ``omgd-pix2pix``, ...: the preset of a method on a paired/unpaired task."""
    if method not in METHODS:
        raise GancompError(f"unknown online-distillation method {method!r}; choose from {list(METHODS)}")
    return f"{method}-{'pix2pix' if task_kind == 'paired' else 'cyclegan'}"


class TwoTeacherPix2PixObjective(Pix2PixObjective):
    """OMGD's two online pix2pix teachers: the wide ``netG`` and the deep
    ``netG_deep``, each with its GAN and L1 terms, one
    :class:`~gancomp_lite.models.MultiNLayerDiscriminator` judging each through
    its own head (0: wide, 1: deep).  The discriminator's loss is the sum of
    the two teachers' pix2pix discriminator losses, the generators' loss the
    sum of their two pix2pix losses (OMGD's ``backward_D_teacher`` and
    ``backward_G_teacher``).  Both generators train in group ``G``: one Adam
    over both is the same update as OMGD's one Adam each, with the same rate.
    ``translator()`` gives the wide teacher and the discriminator (its head 0
    is the wide teacher's)."""

    def __init__(self, netG: nn.Module, netG_deep: nn.Module, netD: nn.Module,
                 gan_mode: str = "hinge", lambda_l1: float = 100.0, lambda_gan: float = 1.0):
        super().__init__(netG, netD, gan_mode, lambda_l1, lambda_gan)
        self.add_to_group("G", "netG_deep", netG_deep)
        self.add_term("G", "gan_deep", lambda_gan, lambda c: self.gan.generator_loss(
            self.netD(torch.cat([c["real_A"], c["fake_B_deep"]], 1), 1)))
        self.add_term("G", "l1_deep", lambda_l1,
                      lambda c: F.l1_loss(c["fake_B_deep"], c["real_B"]))

    def forward_step(self, batch: dict) -> Context:
        ctx = super().forward_step(batch)
        ctx["fake_B_deep"] = self.netG_deep(ctx["real_A"])
        return ctx

    def _d_loss(self, ctx: Context) -> torch.Tensor:
        real = torch.cat([ctx["real_A"], ctx["real_B"]], 1)
        return sum(self.gan.discriminator_loss(
                       self.netD(real, head), self.netD(torch.cat([ctx["real_A"], fake.detach()], 1), head))
                   for head, fake in enumerate((ctx["fake_B"], ctx["fake_B_deep"])))


def _over_teachers(ctx: Context, fn):
    """``fn(teacher_output)`` (a tensor or a dict of tensors), summed over
    the step's teacher outputs (``ctx["teacher_Bs"]``: one, or OMGD's two)."""
    outs = [fn(t) for t in ctx["teacher_Bs"]]
    if len(outs) == 1:
        return outs[0]
    if isinstance(outs[0], dict):
        return {k: sum(o[k] for o in outs) for k in outs[0]}
    return sum(outs)


class OnlineDistillObjective(Objective):
    """An online (or pre-trained) teacher, its discriminator and one or more students.

    Args:
        students: ``{name: generator}``; each trains in optimizer group
            ``S:<name>`` (or ``S`` for a single student called ``S``).
        losses: ``{name: StudentLoss}`` for the same names.
        scheme: one of :data:`SCHEMES`.
        teacher: the teacher's objective (:class:`Pix2PixObjective` or
            :class:`CycleGANObjective`) for the online schemes, trained here;
            for the pre-trained schemes a finished generator (a frozen
            private copy is kept: the caller's network is never changed).
        discriminator: the pre-trained schemes' D (a private copy is kept).
        paired: the task is paired (D judges ``cat(A, image)``).
        backbone: the perceptual backbone (needed when a loss has style or
            feature terms).
        gan_mode: the pre-trained schemes' GAN loss (online: the teacher's).
        channel_layers: layers hooked for channel distillation (default:
            the generators' ``DISTILL_LAYERS``).
        image_size: used to read the hooked layers' channels.
    """

    def __init__(self, students: dict[str, nn.Module], losses: dict[str, StudentLoss],
                 scheme: str, teacher: Objective | nn.Module, discriminator: nn.Module | None = None,
                 paired: bool = True, backbone: Backbone | None = None, gan_mode: str = "hinge",
                 channel_layers: Sequence[str] | None = None, image_size: int = 64):
        super().__init__()
        if scheme not in SCHEMES:
            raise GancompError(f"unknown discriminator scheme {scheme!r}; choose from {list(SCHEMES)}")
        if set(students) != set(losses) or not students:
            raise GancompError("give one StudentLoss per student (and at least one student)")
        self.scheme, self.paired = scheme, paired
        self.online = not scheme.startswith("pretrained")
        updating = scheme.endswith("updating")
        if updating and len(students) != 1:
            raise GancompError(f"scheme {scheme!r} trains the discriminator on the student's outputs: "
                               f"it takes one student, not {len(students)}")
        if self.online:
            if not isinstance(teacher, (Pix2PixObjective, CycleGANObjective)):
                raise GancompError("online schemes need the teacher's objective (pix2pix or CycleGAN), "
                                   f"not {type(teacher).__name__}")
            if isinstance(teacher, CycleGANObjective) == paired:
                raise GancompError("a paired task needs a pix2pix teacher objective, an unpaired one "
                                   "a CycleGAN objective")
            self.add_module("teacher", teacher)
            for group, names in teacher.group_modules.items():
                self.group_modules[group] = [f"teacher.{n}" for n in names]
                self.terms[group] = list(teacher.terms.get(group, []))
            self.update_order = tuple(teacher.update_order)
            netG, netD = teacher.translator()
            self.gan = teacher.gan
            self._teacher_G_name = "teacher." + next(n for n, m in teacher.named_children() if m is netG)
            self._D_name = "teacher." + next(n for n, m in teacher.named_children() if m is netD)
        else:
            if discriminator is None and scheme != "none":
                raise GancompError(f"scheme {scheme!r} needs the pre-trained teacher's discriminator")
            self.add_module("teacher", self.frozen(copy.deepcopy(teacher).float()))
            self._teacher_G_name = "teacher"
            self.gan = GANLoss(gan_mode)
            self.update_order = ()
            self._D_name = "netD"
            D = copy.deepcopy(discriminator).float()
            if updating:
                self.add_to_group("D", "netD", D)
                self.update_order = ("D",)
            else:
                self.add_module("netD", self.frozen(D))
        self.backbone = backbone
        if backbone is not None:
            for p in backbone.parameters():
                p.requires_grad_(False)
        self.losses = dict(losses)
        self.student_names = list(students)
        self.channel_layers: tuple[str, ...] = ()
        for name, net in students.items():
            group = self.group_of(name)
            self.add_to_group(group, self._attr(name), net)
            loss = self.losses[name]
            self._add_student_terms(name, group, loss, channel_layers, image_size)
        self.update_order = tuple(self.update_order) + tuple(self.group_of(n) for n in students)
        if updating:
            self.add_term("D", "student", 1.0, self._d_student_loss)
        self.hparams = dict(scheme=scheme, paired=paired,
                            backbone=backbone.name if backbone is not None else None,
                            losses={n: l.as_dict() for n, l in self.losses.items()})

    # -- names ----------------------------------------------------------------
    @staticmethod
    def group_of(name: str) -> str:
        return "S" if name == "S" else f"S:{name}"

    @staticmethod
    def _attr(name: str) -> str:
        return "student_" + "".join(c if c.isalnum() else "_" for c in name)

    def student(self, name: str) -> nn.Module:
        return getattr(self, self._attr(name))

    @property
    def teacher_G(self) -> nn.Module:
        return self.get_submodule(self._teacher_G_name)

    @property
    def netD_judge(self) -> nn.Module:
        return self.get_submodule(self._D_name)

    def parameters_of(self, group: str) -> list[nn.Parameter]:
        seen, params = set(), []
        for name in self.group_modules.get(group, []):
            for p in self.get_submodule(name).parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    params.append(p)
        return params

    def state_dict(self, *args, **kwargs):
        """The weights without the perceptual backbone's (fixed, and loaded from its own
        file: VGG16 would add half a gigabyte to every checkpoint)."""
        state = super().state_dict(*args, **kwargs)
        for key in [k for k in state if k.startswith("backbone.")]:
            del state[key]
        return state

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        result = super().load_state_dict(state_dict, strict=False, assign=assign)
        missing = [k for k in result.missing_keys if not k.startswith("backbone.")]
        if strict and (missing or result.unexpected_keys):
            raise RuntimeError(f"state dict does not fit: missing {missing}, "
                               f"unexpected {result.unexpected_keys}")
        return result

    def train(self, mode: bool = True):
        super().train(mode)
        if not self.online:
            self.teacher.eval()
            if self.scheme == "pretrained-frozen":
                self.netD.eval()
        if self.backbone is not None:
            self.backbone.eval()
        return self

    # -- the student's terms ---------------------------------------------------
    def _add_student_terms(self, name, group, loss: StudentLoss, channel_layers, image_size):
        key = f"student:{name}"
        if loss.relations:
            def relations(c, key=key, loss=loss):
                if key + ":relations" not in c:
                    c[key + ":relations"] = _over_teachers(c, lambda t: content_relation_loss(
                        c[key], t, loss.relations, loss.patch_size,
                        loss.w_distance, loss.w_angle, loss.reduction))
                return c[key + ":relations"]
            for s in loss.relations:
                self.add_term(group, f"rkd_{s}", loss.relation_weight,
                              lambda c, s=s, f=relations: f(c)[s])
        pw = loss.perceptual
        if any(pw.as_dict().values()):
            perc = PerceptualLoss(pw, self.backbone if pw.needs_backbone else None)
            def perceptual(c, key=key, perc=perc):
                if key + ":perceptual" not in c:
                    c[key + ":perceptual"] = _over_teachers(c, lambda t: perc(c[key], t))
                return c[key + ":perceptual"]
            for term, weight in pw.as_dict().items():
                if weight:
                    self.add_term(group, term, weight, lambda c, t=term, f=perceptual: f(c)[t])
        if loss.channel:
            teacher_G = self.teacher_G
            layers = tuple(channel_layers or getattr(type(teacher_G), "DISTILL_LAYERS", ()))
            if not layers:
                raise GancompError(f"{type(teacher_G).__name__} names no layers for channel "
                                   "distillation: pass channel_layers")
            self.channel_layers = layers
            s_shapes = feature_shapes(self.student(name), layers, image_size)
            t_shapes = feature_shapes(teacher_G, layers, image_size)
            cd = ChannelDistillLoss([(s_shapes[n][0], t_shapes[n][0]) for n in layers])
            self.add_to_group(group, self._attr(name) + "_cd", cd)
            self.add_term(group, "channel", loss.channel, lambda c, key=key, cd=cd: cd(
                [c[key + ":feats"][n] for n in layers], [c["teacher_feats"][n] for n in layers]))
        if loss.anchor:
            # the book's colour anchor (OMGD has none): averaged, so two teachers weigh it as one
            self.add_term(group, "anchor", loss.anchor, lambda c, key=key: _over_teachers(
                c, lambda t: (c[key] - t).abs().mean()) / len(c["teacher_Bs"]))
        if loss.gan:
            if self.scheme == "none":
                raise GancompError("scheme 'none' has no discriminator for the student: set gan=0")
            self.add_term(group, "gan", loss.gan,
                          lambda c, key=key: self.gan.generator_loss(self._judge(c, c[key])))
        if not self.terms.get(group):
            raise GancompError(f"student {name!r} has no loss terms")

    def _judge(self, ctx: Context, image: torch.Tensor) -> torch.Tensor:
        D = self.netD_judge
        return D(torch.cat([ctx["real_A"], image], 1) if self.paired else image)

    def _d_student_loss(self, ctx: Context) -> torch.Tensor:
        key = f"student:{self.student_names[0]}"
        return self.gan.discriminator_loss(self._judge(ctx, ctx["real_B"]),
                                           self._judge(ctx, ctx[key].detach()))

    # -- one step --------------------------------------------------------------
    def forward_step(self, batch: dict) -> Context:
        """The teacher's step context (online) or ``real_A``/``real_B``
        (pre-trained), plus ``teacher_B`` (the teacher's output, detached),
        each student's output ``student:<name>`` and, with channel
        distillation, the hooked activations."""
        if self.online:
            ctx = self.teacher.forward_step(batch)
            teacher_B = ctx["fake_B"].detach()
        else:
            ctx = {"real_A": batch["A"], "real_B": batch["B"]}
            teacher_B = None
        layers = self.channel_layers
        if layers or teacher_B is None:
            with torch.no_grad(), capture_features(self.teacher_G, layers) as t_feats:
                out = self.teacher_G(ctx["real_A"])
            teacher_B = out if teacher_B is None else teacher_B
            ctx["teacher_feats"] = dict(t_feats)
        ctx["teacher_B"] = teacher_B
        ctx["teacher_Bs"] = [teacher_B] + ([ctx["fake_B_deep"].detach()] if "fake_B_deep" in ctx else [])
        for name in self.student_names:
            key = f"student:{name}"
            uses_cd = self.losses[name].channel > 0
            with capture_features(self.student(name), layers if uses_cd else ()) as s_feats:
                ctx[key] = self.student(name)(ctx["real_A"])
            if uses_cd:
                ctx[key + ":feats"] = dict(s_feats)
        return ctx

    def translator(self):
        return self.student(self.student_names[0]), self.netD_judge

    def describe(self) -> dict:
        out = {}
        for name, module in self.named_children():
            if name == "teacher" and self.online:
                out.update({f"teacher.{n}": dict(getattr(m, "config", {}), cls=type(m).__name__)
                            for n, m in module.named_children()})
            else:
                out[name] = dict(getattr(module, "config", {}), cls=type(module).__name__)
        return out

    def extra_state(self) -> dict:
        return self.teacher.extra_state() if self.online else {}

    def load_extra_state(self, state: dict) -> None:
        if self.online:
            self.teacher.load_extra_state(state)


def _with_deep_teacher(wide: Pix2PixObjective, ngf: int, n_share: int,
                       image_size: int) -> TwoTeacherPix2PixObjective:
    """``wide``'s generator and losses, with OMGD's deep teacher of width ``ngf``
    beside it and a two-headed discriminator of the same width and norm as
    ``wide``'s in place of its own."""
    from ..models import MultiNLayerDiscriminator, build_generator

    if ngf < 1:
        raise GancompError(f"the deep teacher's width must be a positive integer, got {ngf}")
    G, D = wide.translator()
    deep = build_generator("mobile_deepest_resnet", ngf=ngf, image_size=image_size,
                           input_nc=G.config["input_nc"], output_nc=G.config["output_nc"])
    two = MultiNLayerDiscriminator(D.config["input_nc"], ndf=D.config["ndf"], n_share=n_share,
                                   norm=D.config["norm"])
    return TwoTeacherPix2PixObjective(G, deep, two, **wide.hparams)


def build_online(task: str, students: dict[str, StudentLoss], scheme: str = "online-frozen",
                 scale=None, student_ngf: int | None = None, teacher_ngf: int | None = None,
                 arch: str = "mobile_resnet", teacher_arch: str = "resnet",
                 backbone: Backbone | None = None,
                 pretrained: tuple[nn.Module, nn.Module | None] | None = None,
                 seed: int = 0, deep_teacher_ngf: int | None = None,
                 n_share: int = 3) -> OnlineDistillObjective:
    """Fresh students and, for the online schemes, a fresh teacher objective.

    The teacher follows the book's teacher recipe of ``task`` at ``scale``
    (:func:`~gancomp_lite.training.teachers.teacher_recipe`: its objective,
    discriminator width and image size); its ``ngf`` is ``teacher_ngf``
    (default: the scale's teacher width).  Students are ``arch`` at
    ``student_ngf`` (default: a quarter of the teacher's, OMGD's wide
    teacher ratio).  ``pretrained``: ``(teacher, discriminator)`` for the
    pre-trained schemes.  ``deep_teacher_ngf``: OMGD's second, deep teacher
    at this width (paired tasks, online schemes), trained beside the wide one
    (:class:`TwoTeacherPix2PixObjective`, their discriminator sharing its
    first ``n_share`` stages).  Networks are initialised from ``seed``; all
    students start from the same weights (arms differ only in their losses)."""
    from ..models import build_generator
    from .teachers import PAIRED, build_objective, teacher_recipe

    from ..models import GENERATORS

    if teacher_arch not in GENERATORS:
        raise GancompError(f"unknown teacher architecture {teacher_arch!r}: expected one of "
                           f"{', '.join(sorted(GENERATORS))}")
    recipe = teacher_recipe(task, scale, arch="inception" if teacher_arch == "inception" else "resnet")
    if teacher_arch not in ("resnet", "inception"):     # OMGD's and CRD's Mobile ResNet teachers
        recipe = replace(recipe, arch=teacher_arch)
    if teacher_ngf:
        recipe = replace(recipe, ngf=int(teacher_ngf))
    paired = recipe.objective == PAIRED
    student_ngf = student_ngf or max(1, recipe.ngf // 4)
    torch.manual_seed(seed)
    if deep_teacher_ngf is not None and (not paired or scheme.startswith("pretrained")):
        raise GancompError("OMGD's deep teacher trains online beside the wide one on a paired "
                           f"task: not with {'an unpaired task' if not paired else 'scheme ' + repr(scheme)}")
    if scheme.startswith("pretrained"):
        if pretrained is None:
            raise GancompError(f"scheme {scheme!r} needs a pre-trained teacher and discriminator")
        teacher, D = pretrained
        gan_mode = "hinge" if paired else "lsgan"
    else:
        if pretrained is not None:
            raise GancompError(f"scheme {scheme!r} trains its teacher online: give no pre-trained one")
        teacher = build_objective(recipe)
        D, gan_mode = None, teacher.hparams["gan_mode"]
        if deep_teacher_ngf is not None:
            teacher = _with_deep_teacher(teacher, int(deep_teacher_ngf), n_share, recipe.image_size)
    first = build_generator(arch, ngf=student_ngf, image_size=recipe.image_size)
    nets = {name: copy.deepcopy(first) for name in students}
    return OnlineDistillObjective(nets, dict(students), scheme, teacher, D, paired=paired,
                                  backbone=backbone, gan_mode=gan_mode,
                                  image_size=recipe.image_size)


def distill_online(task: str, method: str, out: str | Path, steps: int, preset_name: str | None = None,
                   scheme: str | None = None, student_ngf: int | None = None,
                   teacher_ngf: int | None = None, batch_size: int | None = None, seed: int = 0,
                   n_train: int | None = None, backbone: str | None = None, download: bool = False,
                   teacher_file: str | Path | None = None, data: str | Path | None = None,
                   device=None, progress: bool = True, evaluate_n: int | bool = True,
                   force: bool = False, command: str | None = None, amp: str | None = None,
                   channels_last: bool = False, direction: str = "AtoB",
                   epochs: tuple[int, int] | None = None,
                   paper_preset: str | None = None, teacher_arch: str = "resnet",
                   deep_teacher_ngf: int | None = None, n_share: int = 3) -> Trainer:
    """Train one student by ``method`` (``crd`` or ``omgd``) and write ``out/``:

    ``checkpoint.pt`` (resumable, the teacher included), ``recipe.json``
    (preset, weights, scheme, backbone, command, code version),
    ``student.pt`` + ``student.json`` (the student generator, checksummed:
    :func:`~gancomp_lite.training.checkpoint.load_student_file` reads it) and,
    on the synthetic tasks, ``metrics.json`` (test-split quality, cost, the
    backbone named).  Defaults: the method's preset for the task kind,
    scheme ``online-frozen`` for CRD and ``none`` for OMGD, the scale's batch
    size and backbone (``synthetic`` at ``ci``, ``vgg16`` otherwise; VGG16 is
    fetched only with ``download``).  The pre-trained schemes use
    ``teacher_file`` (default: the task's shipped teacher).  An existing
    ``out`` with a checkpoint is an error unless ``force``.  ``amp``,
    ``channels_last``, ``direction``: as for ``train``; under ``torchrun`` the run
    is data-parallel and rank 0 writes the files (:mod:`.parallel`).
    ``epochs`` ``(total, decaying)`` with ``steps=None``: that many epochs of
    the training set, the learning rate decaying over the last ones; with
    explicit ``steps`` only the decay's share (as :func:`~.distill.distill`);
    ``paper_preset``: the preset they came from, recorded.  ``teacher_arch``:
    the online teacher's generator (OMGD and CRD train a Mobile ResNet);
    ``deep_teacher_ngf``, ``n_share``: OMGD's second teacher
    (:func:`build_online`)."""
    import json

    from ..config import get_scale
    from ..losses.perceptual import default_backbone_name, load_backbone
    from ..metrics.cost import count_params, profile_macs
    from ..metrics.quality import evaluate
    from ..provenance import code_version
    from ..shipped import write_shipped
    from .checkpoint import load_teacher_file, require_teacher_file, student_payload
    from .checkpoint import teacher_path as shipped_path
    from .loop import run_folder
    from .teachers import PAIRED, task_data, teacher_recipe

    scale = get_scale()
    recipe = teacher_recipe(task, scale)
    kind = "paired" if recipe.objective == PAIRED else "unpaired"
    preset_name = preset_name or default_preset(method, kind)
    bb_name = backbone or default_backbone_name(scale)
    loss = preset(preset_name, bb_name)
    if not preset_name.startswith(method):
        raise GancompError(f"preset {preset_name!r} is not a {method} preset")
    if preset_name.endswith("pix2pix") != (kind == "paired"):
        raise GancompError(f"preset {preset_name!r} is written for "
                           f"{'paired' if preset_name.endswith('pix2pix') else 'unpaired'} tasks; "
                           f"{task} is {kind}")
    scheme = scheme or ("online-frozen" if method == "crd" else "none")
    if scheme == "none" and loss.gan:
        loss = loss.with_(gan=0.0)
    for what, value in (("steps", steps or 1), ("batch_size", batch_size or 1),
                        ("n_train", n_train or 1)):
        if value < 1:
            raise GancompError(f"{what} must be a positive number, got {value}")
    out = Path(out)
    ckpt = out / "checkpoint.pt"
    if ckpt.exists() and not force:
        raise GancompError(f"{ckpt} exists: choose another output folder, or pass --force")
    from .parallel import barrier, is_main

    bb = None
    if loss.perceptual.needs_backbone:   # under torchrun rank 0 downloads, the others wait for it
        if download and not is_main():
            barrier()
        bb = load_backbone(bb_name, download=download and is_main())
        if download and is_main():
            barrier()
    pretrained = None
    tpath = None
    if scheme.startswith("pretrained"):
        tpath = Path(teacher_file) if teacher_file else shipped_path(task, scale.name)
        require_teacher_file(tpath, task, scale.name)
        pretrained = load_teacher_file(tpath, discriminator=True)
    objective = build_online(task, {"S": loss}, scheme, scale=scale, student_ngf=student_ngf,
                             teacher_ngf=teacher_ngf, teacher_arch=teacher_arch, backbone=bb,
                             pretrained=pretrained, seed=seed, deep_teacher_ngf=deep_teacher_ngf,
                             n_share=n_share)
    batch_size = batch_size or recipe.batch_size
    train_set = task_data(task, scale.name, recipe.image_size, n_train or max(scale.n_train, 1), 0,
                          data, direction)
    from .loop import run_schedule, schedule_record

    steps, decay_steps = run_schedule(steps, epochs, len(train_set), batch_size)
    trainer = Trainer(objective, train_set, steps, batch_size=batch_size, seed=seed, device=device,
                      progress=progress, amp=amp, channels_last=channels_last,
                      decay_steps=decay_steps)
    student = objective.student("S")
    with run_folder(out):
        if is_main():
            (out / "recipe.json").write_text(json.dumps(
                {"method": method, "preset": preset_name, "loss": loss.as_dict(), "scheme": scheme,
                 "task": task, "scale": scale.name, "backbone": bb.name if bb else None,
                 "student": student.config, "teacher": (str(tpath) if tpath else
                                                        objective.teacher_G.config),
                 **({"deep_teacher": objective.teacher.netG_deep.config,
                     "discriminator": objective.netD_judge.config}
                    if deep_teacher_ngf is not None else {}),
                 "data": str(data or f"synthetic:{task}"), "steps": steps, "batch_size": batch_size,
                 "seed": seed, "code_version": code_version(), "command": command,
                 **trainer.recorded_options(),
                 **({"direction": direction} if direction != "AtoB" else {}),
                 **schedule_record(paper_preset, epochs, decay_steps)},
                indent=2) + "\n")
        trainer.fit(checkpoint=ckpt)
    if not is_main():       # rank 0 ships the student and scores it
        return trainer
    G = student.cpu().eval()
    write_shipped(student_payload(G, kind), out / "student.pt",
                  {"kind": f"{method} student", "task": task, "scale": scale.name, "preset": preset_name,
                   "scheme": scheme, "backbone": bb.name if bb else None, "command": command,
                   "code_version": code_version()})
    if evaluate_n is True:
        evaluate_n = scale.n_test
    if evaluate_n and data is None:
        with torch.no_grad():
            q = evaluate(G, task, n=evaluate_n, size=recipe.image_size, seed=0, baselines=False)
        metrics = {"eval_split": f"test, seed 0, n={evaluate_n}",
                   "perceptual_backbone": bb.name if bb else None,
                   "gmacs_256": profile_macs(G, 256, "in-excluded") / 1e9,
                   "macs_convention": "in-excluded", "mparams": count_params(G) / 1e6, **q}
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    return trainer


@torch.no_grad()
def output_terms(loss: StudentLoss, student: torch.Tensor, teacher: torch.Tensor,
                 backbone: Backbone | None = None) -> dict[str, float]:
    """The unweighted value of each term of ``loss`` that compares output
    images, for the images ``student`` and ``teacher`` (``[B, 3, H, W]`` in
    ``[-1, 1]``): ``rkd_<set>``, the perceptual terms and the ``anchor``.  The
    adversarial and channel terms, which need networks, are left out.  What
    chapter 08 uses to show which changes of an output each term is blind to."""
    out: dict[str, float] = {}
    if loss.relations:
        rel = content_relation_loss(student, teacher, loss.relations, loss.patch_size,
                                    loss.w_distance, loss.w_angle, loss.reduction)
        out.update({f"rkd_{k}": float(v) for k, v in rel.items()})
    pw = loss.perceptual
    if any(pw.as_dict().values()):
        perc = PerceptualLoss(pw, backbone if pw.needs_backbone else None)
        out.update({k: float(v) for k, v in perc(student, teacher).items()})
    if loss.anchor:
        out["anchor"] = float((student - teacher).abs().mean())
    return out


def trace_steps(trainer: Trainer, steps: int = 2) -> list[dict]:
    """Train ``steps`` steps of an online ``trainer`` and report, for every
    optimizer update, which networks it changed: one dict per update with
    ``step``, ``group`` and, for the discriminator, the teacher generator and
    each student, whether any of its weights moved (the schedule made
    visible; the optimizers' own step hooks watch, the loop is the usual one)."""
    obj = trainer.objective
    if not isinstance(obj, OnlineDistillObjective):
        raise GancompError("trace_steps needs a trainer of an OnlineDistillObjective")
    nets = {"discriminator": obj.netD_judge, "teacher G": obj.teacher_G,
            **{f"student {n}": obj.student(n) for n in obj.student_names}}
    records, before = [], {}
    handles = []
    for group, opt in trainer.optimizers.items():
        def pre(_opt, _args, _kwargs, group=group):
            before.clear()
            before.update({k: [p.detach().clone() for p in m.parameters()] for k, m in nets.items()})

        def post(_opt, _args, _kwargs, group=group):
            records.append({"step": trainer.step, "group": group,
                            **{k: any(not torch.equal(a, b) for a, b in zip(before[k], m.parameters()))
                               for k, m in nets.items()}})
        handles += [opt.register_step_pre_hook(pre), opt.register_step_post_hook(post)]
    try:
        trainer.fit(until=trainer.step + steps)
    finally:
        for h in handles:
            h.remove()
    return records
