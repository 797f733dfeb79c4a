"""Task families, one module each; importing this package registers every size of each."""

from proxy_tasks.tasks import char, glyphs, illcond, pylm, sparse, teacher, transformer

__all__ = ["char", "glyphs", "illcond", "pylm", "sparse", "teacher", "transformer"]
