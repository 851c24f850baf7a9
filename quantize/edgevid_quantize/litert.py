"""LiteRT's interpreter on its builtin kernels, for looking inside a model rather than running it fast."""

from __future__ import annotations

from pathlib import Path


def builtin_interpreter(model: bytes | str | Path, keep_tensors: bool = False):
    """An allocated interpreter for ``model`` (its bytes or a path) with no delegate, so every op runs (and is
    listed) as written; ``keep_tensors`` keeps each intermediate tensor readable after ``invoke``.

    XNNPACK, the default delegate, would fold ops into partitions and take their tensors into its own buffers."""
    from ai_edge_litert.interpreter import Interpreter, OpResolverType

    source = {"model_content": model} if isinstance(model, bytes) else {"model_path": str(model)}
    it = Interpreter(**source, experimental_preserve_all_tensors=keep_tensors,
                     experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    it.allocate_tensors()
    return it
