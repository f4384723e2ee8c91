"""sagan_engine: a faithful PyTorch SAGAN (Zhang et al., arXiv 1805.08318), Qt-free."""

__version__ = "0.1.0"
