"""A model's second order, derived: the R-operator's forward and backward steps, and the loss Hessian.

:func:`derive_second_order` returns one :class:`~symbackprop.layers.LayerDerivation` that renderers print
as they print any: the R-forward equations (R{z}, R{a}: Bishop's 5.101-5.102), the backward pass of the
tangent model (each dq is R{δ_q}, each dW is R{∂C/∂W} = (H v)_W, each dRW is ∂C/∂W), and the Hessian of
the loss with respect to the logits (softmax + cross-entropy: diag(p) - p pᵀ), which the generalised
Gauss-Newton matrix G = Jᵀ H_L J keeps and the Hessian H adds Σ_k (∂L/∂z_k) ∇²z_k to.
"""
from __future__ import annotations

import dataclasses
import re

import sympy as sp

from ..derivation import Rule, Step
from ..errors import InternalError
from ..layers._derivation import gradient_base
from ..layers._loss_hessian import QUANTITY, loss_hessian
from ..layers._second_order import direction_name, head, second_directional, tangent_layer

#: the final stages whose input is the logits of the Gauss-Newton split (the loss head includes them)
HEAD_STAGES = ("softmax", "log-softmax", "sigmoid")
#: the names of the closing steps' quantities
PRODUCT, RESIDUAL = "Hv", "H - G"


def logits_of(model) -> str:
    """The quantity the Gauss-Newton split is taken at: the input of a final softmax, log-softmax or sigmoid
    (the loss head takes logits, as torch's CrossEntropyLoss does), else the model's output."""
    match = re.match(r"\s*(\w+)\s*=\s*([\w-]+)\((\w+)", model.stages[-1])
    if match is None:
        raise InternalError(f"a model's stage line {model.stages[-1]!r} does not read 'out = name(in...'")
    output, stage, argument = match.groups()
    return argument if stage in HEAD_STAGES else output


def loss_head(model):
    """The loss as a function of the logits: a layer whose one parameter is the logits."""
    return head(model.layer, logits_of(model), "L", "loss_head")


def r_forward_steps(tangent) -> tuple:
    """The R-operator's forward pass as steps (one per R-equation) and their section titles."""
    steps = tuple(Step(f"R{{{eq.lhs.base.label.name[1:]}}}", eq, Rule.R_OPERATOR,
                       f"{eq.lhs.base.label.name} = R{{{eq.lhs.base.label.name[1:]}}}: d/dε of its definition with "
                       f"every W -> W + ε RW, at ε = 0") for eq in tangent.r_equations)
    return steps, tuple((step.quantity, f"{step.quantity} (the R-operator's forward pass)") for step in steps)


def derive_layer_second_order(layer):
    """A layer's R{backward}: the R-forward steps, then the tangent layer's backward pass, whose gradients of the
    inputs and parameters are R{dx}, R{dW} when the upstream gradients are (Rdy, dy)."""
    from ..layers import derive_layer
    (output,) = layer.outputs
    tangent = tangent_layer(layer, output, with_inputs=True)
    derivation = derive_layer(tangent.layer)
    forward, titles = r_forward_steps(tangent)
    closing = tuple(Step(PRODUCT, sp.Eq(sp.IndexedBase(f"R_d{name}", real=True)[derivation.gradient(name).indices],
                                        gradient_base(name)[derivation.gradient(name).indices], evaluate=False),
                         Rule.R_OPERATOR,
                         f"with the upstream gradients d{output} = Rdout (the direction of dout) and "
                         f"d{direction_name(output)} = dout: d{name} is R{{d{name}}}, d{direction} is d{name}")
                    for name, direction in tangent.directions)
    titles += ((PRODUCT, "R{backward}: what the backward pass of the tangent layer computes"),)
    return dataclasses.replace(derivation, steps=forward + derivation.steps + closing, titles=titles)


def derive_second_order(model):
    """The R-operator of the model and its loss Hessian, as one derivation with titled sections."""
    from ..layers import derive_layer
    tangent = tangent_layer(model.layer, "L")
    derivation = derive_layer(tangent.layer)
    forward, titles = r_forward_steps(tangent)
    closing = tuple(Step(PRODUCT, sp.Eq(sp.IndexedBase(f"Hv_{param}", real=True)[derivation.gradient(param).indices],
                                        gradient_base(param)[derivation.gradient(param).indices], evaluate=False),
                         Rule.R_OPERATOR,
                         f"with dL = 0 and d{tangent.r_loss} = 1/N: d{param} is R{{∂C/∂{param}}}, the Hessian of C "
                         f"times the directions; d{direction} is ∂C/∂{param}; each dq above is R{{δ_q}}")
                    for param, direction in tangent.directions)
    logits = logits_of(model)
    hessian = loss_hessian(loss_head(model), logits)
    residual = _residual_steps(model, logits)
    titles += ((PRODUCT, "H v = R{∂C/∂W}: what the backward pass of the R-operator computes"),
               (QUANTITY, f"H_L = ∂²L/∂{logits}∂{logits}ᵀ, the Hessian of the loss with respect to the logits "
                          f"{logits} (G = Jᵀ H_L J; H - G = Σ_k (∂L/∂{logits}_k) ∇²{logits}_k)"),
               (RESIDUAL, f"H - G on each parameter's diagonal block: Σ_k (∂L/∂{logits}_k) v_Wᵀ ∇²_W {logits}_k v_W, "
                          f"zero where R_W R_W {{{logits}}} is"))
    return dataclasses.replace(derivation, steps=forward + derivation.steps + closing + hessian.steps + residual,
                               titles=titles)


def _residual_steps(model, logits) -> tuple:
    """Per parameter W: R_W R_W {logits} (the directions in W alone, twice), zero when the logits are linear in W."""
    steps, linear = [], []
    for param in model.params:
        _, second = second_directional(model.layer, logits, param)
        found = [eq for eq in second if eq.lhs.base.label.name == direction_name(direction_name(logits))]
        indices = model.layer.definition(logits).indices
        lhs = sp.IndexedBase(f"RR_{param}{logits}", real=True)[indices]
        if not found:
            linear.append(param)
            steps.append(Step(RESIDUAL, sp.Eq(lhs, 0, evaluate=False), Rule.R_OPERATOR,
                              f"R twice along {param} alone: every R_{param}R_{param}{{q}} on the way to {logits} is "
                              f"zero ({logits} is linear in {param}; R of a case split such as relu's has zero branches), "
                              f"so H = G on {param}'s block"))
            continue
        steps.append(Step(RESIDUAL, sp.Eq(lhs, found[0].rhs, evaluate=False), Rule.R_OPERATOR,
                          f"R twice along {param} alone is not zero: the residual Σ_k (∂L/∂{logits}_k) ∇²{logits}_k "
                          f"adds to G on {param}'s block"))
    if len(linear) == len(model.params):
        steps.append(Step(RESIDUAL, sp.Eq(sp.Symbol("diag(H)"), sp.Symbol("diag(G)"), evaluate=False), Rule.R_OPERATOR,
                          "piecewise linear in each parameter: the residual is zero on every diagonal block, so the "
                          "Hessian's diagonal is the Gauss-Newton matrix's (diag_ggn)"))
    return tuple(steps)


__all__ = ["HEAD_STAGES", "derive_second_order", "direction_name", "logits_of", "loss_head"]
