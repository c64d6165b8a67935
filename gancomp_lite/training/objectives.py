"""Training objectives: which networks train, and with which losses.

An :class:`Objective` owns the networks of one training setup and says how a
step uses them.  Its trainable networks are split into optimizer *groups*
(``"G"``, ``"D"``), updated in :attr:`Objective.update_order`, and each group's
loss is a weighted sum of :class:`LossTerm`\\ s computed from a step context
(the batch plus everything :meth:`Objective.forward_step` produced).  Later
chapters extend an objective without touching the loop: a distillation term is
one more ``add_term("G", ...)``, a mapping convolution one more
``add_to_group("G", ...)``, a frozen discriminator a network in no group.

Two objectives come with the package:

* :class:`Pix2PixObjective` (paired): ``L = GAN(D(x, G(x))) + lambda_L1 |G(x) - y|``
  with a conditional PatchGAN that sees input and output concatenated;
* :class:`CycleGANObjective` (unpaired): two generators and two
  discriminators, cycle-consistency and identity losses, and image pools.

Explained in chapter ``nb/03_teachers`` (sections ``sec-teachers-pix2pix`` and
``sec-teachers-cyclegan``).
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..losses.gan import GANLoss
from ..models import NLayerDiscriminator, build_generator

Context = dict


@dataclass
class LossTerm:
    """One weighted term of a group's loss: ``weight * fn(ctx)``."""

    name: str
    weight: float
    fn: Callable[[Context], torch.Tensor]


class ImagePool:
    """A buffer of past fakes shown to the discriminator (CycleGAN, size 50).

    With probability 1/2 a queried image is swapped for a stored one, so the
    discriminator also sees older generator outputs.  Uses Python's
    ``random`` (seeded and checkpointed by the trainer).
    """

    def __init__(self, size: int = 50):
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            image = image.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif random.random() > 0.5:
                k = random.randrange(self.size)
                out.append(self.images[k].clone())
                self.images[k] = image.clone()
            else:
                out.append(image)
        return torch.cat(out, 0)

    def state_dict(self) -> dict:
        return {"size": self.size, "images": [im.cpu() for im in self.images]}

    def load_state_dict(self, state: dict, device=None) -> None:
        self.size = state["size"]
        self.images = [im.to(device) if device is not None else im for im in state["images"]]


class Objective(nn.Module):
    """Networks of one training setup and the losses of each optimizer group."""

    #: optimizer groups in the order the trainer updates them
    update_order: tuple[str, ...] = ("D", "G")

    def __init__(self):
        super().__init__()
        self.terms: dict[str, list[LossTerm]] = {}
        self.group_modules: dict[str, list[str]] = {}

    # -- building -------------------------------------------------------
    def add_to_group(self, group: str, name: str, module: nn.Module) -> nn.Module:
        """Register ``module`` as ``name`` and train it with optimizer ``group``."""
        self.add_module(name, module)
        self.group_modules.setdefault(group, []).append(name)
        return module

    def add_term(self, group: str, name: str, weight: float,
                 fn: Callable[[Context], torch.Tensor]) -> None:
        """Add ``weight * fn(ctx)`` to the loss of ``group`` (logged as ``group/name``)."""
        if any(t.name == name for t in self.terms.get(group, [])):
            raise ValueError(f"group {group!r} already has a loss term {name!r}")
        self.terms.setdefault(group, []).append(LossTerm(name, float(weight), fn))

    def groups(self) -> list[str]:
        return [g for g in self.update_order if self.group_modules.get(g)]

    def parameters_of(self, group: str) -> list[nn.Parameter]:
        seen, params = set(), []
        for name in self.group_modules.get(group, []):
            for p in getattr(self, name).parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    params.append(p)
        return params

    def frozen(self, module: nn.Module) -> nn.Module:
        """Mark ``module`` as never trained (eval mode, no gradients)."""
        module.eval()
        for p in module.parameters():
            p.requires_grad_(False)
        return module

    # -- one step -------------------------------------------------------
    def forward_step(self, batch: dict) -> Context:  # pragma: no cover - abstract
        raise NotImplementedError

    def group_loss(self, group: str, ctx: Context) -> tuple[torch.Tensor, dict[str, float]]:
        """Weighted sum of ``group``'s terms, and each term's (unweighted) value."""
        total, parts = None, {}
        for term in self.terms.get(group, []):
            value = term.fn(ctx)
            parts[f"{group}/{term.name}"] = float(value.detach())
            total = term.weight * value if total is None else total + term.weight * value
        if total is None:
            raise ValueError(f"optimizer group {group!r} has no loss terms")
        parts[f"{group}/total"] = float(total.detach())
        return total, parts

    def term_gradients(self, group: str, ctx: Context) -> list[dict]:
        """For each term of ``group``: its weighted value and the norm of its
        gradient with respect to the group's parameters, on the step context
        ``ctx``.  Adam rescales each parameter's step by the size of its whole
        gradient, so a term's share of the gradient norm is roughly its share
        of the update: what a loss's weights really do.  Changes no weights."""
        params = [p for p in self.parameters_of(group) if p.requires_grad]
        out = []
        for term in self.terms.get(group, []):
            value = term.weight * term.fn(ctx)
            grads = torch.autograd.grad(value, params, retain_graph=True, allow_unused=True)
            norm = torch.sqrt(sum((g.detach() ** 2).sum() for g in grads if g is not None)
                              or torch.zeros(()))
            out.append({"term": term.name, "weight": term.weight, "weighted value": float(value.detach()),
                        "gradient norm": float(norm)})
        return out

    # -- what a checkpoint needs beyond the weights ---------------------
    def extra_state(self) -> dict:
        return {}

    def load_extra_state(self, state: dict) -> None:
        pass

    def translator(self) -> tuple[nn.Module, nn.Module | None]:
        """The A->B generator and the discriminator that judges its outputs
        (what a teacher ships and a student inherits)."""
        raise NotImplementedError

    def describe(self) -> dict:
        """Plain-data description of the networks (stored in checkpoints)."""
        return {name: dict(getattr(module, "config", {}), cls=type(module).__name__)
                for name, module in self.named_children()}


class Pix2PixObjective(Objective):
    """pix2pix: a conditional GAN plus L1 to the paired target.

    ``G`` maps A to B; ``D`` judges ``cat(A, B_or_fake)``.  Defaults follow
    GAN Compression's pix2pix (hinge loss, lambda_L1 = 100); the original
    pix2pix used the vanilla loss and ndf 64.  The step updates D, then G.
    """

    update_order = ("D", "G")

    def __init__(self, netG: nn.Module, netD: nn.Module | None = None, gan_mode: str = "hinge",
                 lambda_l1: float = 100.0, lambda_gan: float = 1.0):
        super().__init__()
        self.add_to_group("G", "netG", netG)
        self.gan = GANLoss(gan_mode)
        self.hparams = dict(gan_mode=gan_mode, lambda_l1=lambda_l1, lambda_gan=lambda_gan)
        if netD is not None:
            self.add_to_group("D", "netD", netD)
            self.add_term("D", "gan", 1.0, self._d_loss)
            self.add_term("G", "gan", lambda_gan, self._g_gan)
        self.add_term("G", "l1", lambda_l1, lambda ctx: F.l1_loss(ctx["fake_B"], ctx["real_B"]))

    def forward_step(self, batch: dict) -> Context:
        real_A, real_B = batch["A"], batch["B"]
        return {"real_A": real_A, "real_B": real_B, "fake_B": self.netG(real_A)}

    def translator(self):
        return self.netG, getattr(self, "netD", None)

    def _d_loss(self, ctx: Context) -> torch.Tensor:
        real = self.netD(torch.cat([ctx["real_A"], ctx["real_B"]], 1))
        fake = self.netD(torch.cat([ctx["real_A"], ctx["fake_B"].detach()], 1))
        return self.gan.discriminator_loss(real, fake)

    def _g_gan(self, ctx: Context) -> torch.Tensor:
        return self.gan.generator_loss(self.netD(torch.cat([ctx["real_A"], ctx["fake_B"]], 1)))


class CycleGANObjective(Objective):
    """CycleGAN: ``G_A`` maps A to B, ``G_B`` maps B to A; ``D_A`` judges B images
    (real vs ``G_A``'s fakes), ``D_B`` judges A images.

    G loss: GAN terms for both directions, cycle L1 ``|G_B(G_A(a)) - a|`` and
    ``|G_A(G_B(b)) - b|`` weighted ``lambda_cycle`` (10), identity L1
    ``|G_A(b) - b|`` and ``|G_B(a) - a|`` weighted ``lambda_identity *
    lambda_cycle`` (0.5 * 10).  D losses see fakes from an image pool of 50.
    The step updates G, then D, as in the official code.
    """

    update_order = ("G", "D")

    def __init__(self, G_A: nn.Module, G_B: nn.Module, D_A: nn.Module, D_B: nn.Module,
                 gan_mode: str = "lsgan", lambda_cycle: float = 10.0,
                 lambda_identity: float = 0.5, pool_size: int = 50):
        super().__init__()
        for name, net in (("G_A", G_A), ("G_B", G_B)):
            self.add_to_group("G", name, net)
        for name, net in (("D_A", D_A), ("D_B", D_B)):
            self.add_to_group("D", name, net)
        self.gan = GANLoss(gan_mode)
        self.pool_A, self.pool_B = ImagePool(pool_size), ImagePool(pool_size)
        self.hparams = dict(gan_mode=gan_mode, lambda_cycle=lambda_cycle,
                            lambda_identity=lambda_identity, pool_size=pool_size)
        g = self.gan
        self.add_term("G", "gan_A", 1.0, lambda c: g.generator_loss(self.D_A(c["fake_B"])))
        self.add_term("G", "gan_B", 1.0, lambda c: g.generator_loss(self.D_B(c["fake_A"])))
        self.add_term("G", "cycle_A", lambda_cycle, lambda c: F.l1_loss(c["rec_A"], c["real_A"]))
        self.add_term("G", "cycle_B", lambda_cycle, lambda c: F.l1_loss(c["rec_B"], c["real_B"]))
        if lambda_identity > 0:
            w = lambda_identity * lambda_cycle
            self.add_term("G", "idt_A", w, lambda c: F.l1_loss(self.G_A(c["real_B"]), c["real_B"]))
            self.add_term("G", "idt_B", w, lambda c: F.l1_loss(self.G_B(c["real_A"]), c["real_A"]))
        self.add_term("D", "D_A", 1.0, lambda c: g.discriminator_loss(
            self.D_A(c["real_B"]), self.D_A(self.pool_B.query(c["fake_B"]))))
        self.add_term("D", "D_B", 1.0, lambda c: g.discriminator_loss(
            self.D_B(c["real_A"]), self.D_B(self.pool_A.query(c["fake_A"]))))

    def forward_step(self, batch: dict) -> Context:
        real_A, real_B = batch["A"], batch["B"]
        fake_B = self.G_A(real_A)
        fake_A = self.G_B(real_B)
        return {"real_A": real_A, "real_B": real_B, "fake_B": fake_B, "fake_A": fake_A,
                "rec_A": self.G_B(fake_B), "rec_B": self.G_A(fake_A)}

    def translator(self):
        return self.G_A, self.D_A

    def extra_state(self) -> dict:
        return {"pool_A": self.pool_A.state_dict(), "pool_B": self.pool_B.state_dict()}

    def load_extra_state(self, state: dict) -> None:
        device = next(self.parameters()).device
        self.pool_A.load_state_dict(state["pool_A"], device)
        self.pool_B.load_state_dict(state["pool_B"], device)


def pix2pix(arch: str = "resnet", ngf: int = 64, ndf: int = 128, image_size: int = 256,
            gan_mode: str = "hinge", lambda_l1: float = 100.0, norm: str | None = None,
            in_channels: int = 3, out_channels: int = 3) -> Pix2PixObjective:
    """A pix2pix objective with fresh networks (GAN Compression's defaults)."""
    netG = build_generator(arch, ngf=ngf, norm=norm, image_size=image_size,
                           input_nc=in_channels, output_nc=out_channels)
    netD = NLayerDiscriminator(in_channels + out_channels, ndf=ndf)
    return Pix2PixObjective(netG, netD, gan_mode=gan_mode, lambda_l1=lambda_l1)


def cyclegan(arch: str = "resnet", ngf: int = 64, ndf: int = 64, image_size: int = 256,
             gan_mode: str = "lsgan", lambda_cycle: float = 10.0, lambda_identity: float = 0.5,
             pool_size: int = 50, norm: str | None = None) -> CycleGANObjective:
    """A CycleGAN objective with fresh networks (the official defaults)."""
    G = [build_generator(arch, ngf=ngf, norm=norm, image_size=image_size) for _ in range(2)]
    D = [NLayerDiscriminator(3, ndf=ndf) for _ in range(2)]
    return CycleGANObjective(*G, *D, gan_mode=gan_mode, lambda_cycle=lambda_cycle,
                             lambda_identity=lambda_identity, pool_size=pool_size)
