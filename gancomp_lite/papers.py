"""Numbers quoted from the papers, each with where it comes from.

These are the published figures that chapters set *beside* their own
computed results; none of them is ever used as a result.  ``source``
fields are citation keys of ``book/references.bib``.
"""
from __future__ import annotations

#: Published cost of the generators at 256x256, RGB in and out, as
#: (arch, ngf) -> dict with ``gmacs`` (None where no source states one), the
#: MAC ``convention`` the source used, ``mparams``, ``source`` and ``where``.
#: "official code" means the figure follows from the official architecture
#: counted with torchprofile, as quoted in the project's reference digest of
#: the official implementations; the others are printed in the papers.
GENERATOR_COST = {
    ("resnet", 64): dict(gmacs=56.8, convention="either (56.80G / 56.83G)", mparams=11.378,
                         source="li2020gan", where="Table 1 and Table 4, original"),
    ("resnet", 16): dict(gmacs=None, convention=None, mparams=0.716,
                         source="official code", where="ResnetGenerator(ngf=16)"),
    ("mobile_resnet", 64): dict(gmacs=18.3, convention="either", mparams=1.987,
                                source="li2020gan", where="Table 4, only resBlocks changed"),
    ("mobile_resnet", 16): dict(gmacs=1.408, convention="in-excluded", mparams=0.137,
                                source="ren2021online",
                                where="OMGD/CRD student S16 (also li2020gan Table 4: 1.4G, 0.14M)"),
    ("unet", 64): dict(gmacs=None, convention=None, mparams=54.41,
                       source="official code", where="pix2pix unet_256, BatchNorm"),
}

#: GAN Compression Table 4 (horse->zebra, CycleGAN, 256x256): (variant, ngf) ->
#: FID, GMACs, M params as printed.  None where our copy of the table is not
#: legible (the text extraction lost the other ngf-64 FIDs; one value, 62.95,
#: survives without a clear column, so it is not used).
TABLE4 = {
    ("original", 64): dict(fid=61.75, gmacs=56.8, mparams=11.38),
    ("down", 64): dict(fid=None, gmacs=55.5, mparams=11.13),
    ("blocks", 64): dict(fid=None, gmacs=18.3, mparams=1.98),
    ("up", 64): dict(fid=None, gmacs=48.3, mparams=11.05),
    ("down", 16): dict(fid=74.77, gmacs=None, mparams=0.70),
    ("blocks", 16): dict(fid=79.49, gmacs=1.4, mparams=0.14),
    ("up", 16): dict(fid=95.54, gmacs=None, mparams=0.70),
}
