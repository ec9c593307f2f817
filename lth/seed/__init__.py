"""The seed paper's own experiment (Havinga & Sawhney 2020): the authors' procedure and the screen of
what makes our runs differ from theirs (:mod:`lth.seed.screen`, :mod:`lth.seed.authors_driver`)."""
