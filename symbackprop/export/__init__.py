"""Running a derivation: compiled NumPy gradients, standalone NumPy/JAX/PyTorch modules, gradient checks.

Everything the exported code computes is printed from the :class:`~symbackprop.Derivation`
(the elementwise parts by SymPy's code printers, after a stable symbolic rewriting) and laid
out as one matrix product per layer over the whole batch.
"""
from ._compile import compile
from ._debug import debug_initialize_weights, ng_debug_problem
from ..errors import ExportError
from ._gradcheck import GradCheck, gradcheck, numerical_gradient, random_instance
from ._module import export_module
from ._source import LAYOUTS, parameter_shapes
from ._printing import BACKENDS

__all__ = ["compile", "export_module", "gradcheck", "GradCheck", "numerical_gradient", "random_instance",
           "debug_initialize_weights", "ng_debug_problem", "parameter_shapes", "ExportError", "BACKENDS", "LAYOUTS"]
