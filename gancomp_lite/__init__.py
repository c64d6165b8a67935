"""gancomp-lite: the package behind the book on compressing image-to-image GANs.

Where each idea lives (and the chapter that explains it):

* :mod:`gancomp_lite.config`: the scale switch ``GANCOMP_SCALE``, device,
  seeding (introduction);
* :mod:`gancomp_lite.models`: ResNet, MobileNet-style ResNet and U-Net
  generators, PatchGAN discriminator (``nb/01_cost``);
* :mod:`gancomp_lite.metrics`: MACs, parameters, latency (``nb/01_cost``);
* :mod:`gancomp_lite.data`: synthetic tasks and real folder datasets
  (``nb/02_worlds``);
* :mod:`gancomp_lite.losses`, :mod:`gancomp_lite.training`,
  :mod:`gancomp_lite.compression`, :mod:`gancomp_lite.experiments`,
  :mod:`gancomp_lite.deploy`: the methods, their training and the recorded
  experiments (``nb/03``-``nb/10``; each module names its chapter);
* :mod:`gancomp_lite.viz`: image grids, tables and figures;
* :mod:`gancomp_lite.progress`: the one progress bar;
* :mod:`gancomp_lite.cli`: the ``gancomp-lite`` command.
"""
__version__ = "0.1.0"
