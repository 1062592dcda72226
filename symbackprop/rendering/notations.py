"""The textbook notations, as data: one :class:`Notation` record per preset.

This module owns the *facts* about each convention (letters, where the layer index sits, how
layers are numbered, the elementwise-product operator, the cost's name). It contains no
printing logic: the printers in :mod:`._latex_printer` and :mod:`._text_printer` read these
records. A notation is a setting of the printers, never a second engine -- every preset
renders the same :class:`~symbackprop.derivation.Derivation`.

Layer numbering. The canonical convention numbers layers 1..L with the input as layer 1 and
``W^l`` mapping layer l-1 to layer l. A generic layer symbol (l, L) keeps its name in every
notation -- a statement about "layer l" stays true under a renumbering when l is free -- but
may be renamed (Goodfellow's loop layer is k and his output layer is l). A concrete layer
number n is printed as ``n + layer_offset``; a weight matrix additionally shifts by
``weight_offset`` (Ng's Theta^(l) maps layer l to l+1, so canonical W^{l+1} is Theta^(l)).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping, NamedTuple, Optional

from ..errors import UnknownNameError
from ._prose import Formula as _M


class CourseNetwork(NamedTuple):
    """The network a course's own formulas are written for: what an option the user leaves out means
    under this notation (where the bias lives, the L2 strength, the loss of a sigmoid output)."""

    label: str                        #: e.g. "the DLS network", for the line that says what was assumed
    bias: str                         #: "column" (a bias unit, Ng's ex4, Bishop's w_j0) or "separate"
    l2: int                           #: the L2 strength λ
    loss: str                         #: the loss of an elementwise output (a softmax output takes the categorical one)


#: Andrew Ng's ex4 network: the default of every command when no notation is named
EX4_NETWORK = CourseNetwork("Ng's ex4 network", bias="column", l2=1, loss="cross-entropy")


class Glyph(NamedTuple):
    """How one letter is written: in LaTeX and in plain unicode text."""

    latex: str
    text: str


#: the capital letter of a batch matrix (one column per example) for each unit letter
CAPITALS: Mapping[str, Glyph] = MappingProxyType({
    "a": Glyph("A", "A"), "z": Glyph("Z", "Z"), "h": Glyph("H", "H"), r"\delta": Glyph(r"\Delta", "Δ"),
    "dz": Glyph("dZ", "dZ"), "g": Glyph("G", "G"), "y": Glyph("Y", "Y"), "t": Glyph("T", "T"), "e": Glyph("E", "E"),
})

LAYER_STYLES = ("paren", "bracket", "plain", "none")  #: a^{(l)}, a^{[l]}, a^{l}, a (no layer index)
EXAMPLE_LAYOUTS = ("rows", "columns")
BIAS_PLACES = ("column", "separate")
GRADIENT_STYLES = ("partial", "d", "nabla")            #: dC/dW, dW (Ng's DLS), nabla_W J (Goodfellow)
_CANONICAL_INDICES = ("i", "j", "k", "p", "q", "x")   #: unit indices, and x over the examples
_CANONICAL_LAYERS = ("l", "L")


@dataclass(frozen=True)
class Notation:
    """One textbook's convention. Every field is validated when the record is built."""

    name: str
    source: str                       #: the book or course, for headers
    activation: Glyph                 #: the post-activation a = g(z)
    preactivation: Glyph              #: z = W a_prev + b
    weight: Glyph
    bias: Glyph
    error: Glyph                      #: delta = dC/dz
    cost: Glyph                       #: the cost of one example (canonical C)
    batch_cost: Glyph                 #: the cost of a batch of m examples (canonical J)
    target: Glyph
    function: Glyph                   #: the name of an activation function (g, sigma, f, h)
    size: Glyph                       #: the width of a layer, n_l
    hadamard: Glyph                   #: the elementwise product
    layer_style: str                  #: one of LAYER_STYLES
    layer_offset: int = 0             #: printed number of concrete layer n is n + layer_offset
    weight_offset: int = 0            #: weight matrices shift once more (Ng: W^{l+1} is Theta^(l))
    output_activation: Optional[Glyph] = None  #: a separate letter for the output layer's activation (Bishop's y)
    layer_names: Mapping[str, str] = field(default_factory=dict)  #: renamed generic layers ({'l': 'k', 'L': 'l'})
    index_names: Mapping[str, str] = field(default_factory=dict)  #: renamed unit indices (Bishop swaps i and j)
    size_subscript: bool = False      #: write the width as s_l (Ng) rather than with the layer decoration
    transpose_merged: bool = False    #: W^{[l]T} (merged) rather than (W^{[l]})^T
    gradient_style: str = "partial"   #: one of GRADIENT_STYLES
    bias_place: str = "separate"      #: where the author keeps the bias (one of BIAS_PLACES)
    examples: str = "columns"         #: how the author stacks a batch (one of EXAMPLE_LAYOUTS)
    kronecker: Optional[Glyph] = None  #: the Kronecker delta's letter (Bishop's I_kj); None: the Iverson bracket [i = k]
    example_cost: Glyph = Glyph(r"C_{%s}", "C_%s")  #: the cost of example %s of a batch
    batch_letters: Mapping[str, Glyph] = field(default_factory=dict)  #: overrides of CAPITALS (Ng's d for a batch of δ)
    remarks: tuple[tuple, ...] = ()   #: sentences for the header, each a tuple of words and Formula(latex, text)
    code_language: Optional[str] = None  #: the course's language for the result's lines ('octave', 'numpy')
    accumulator_form: bool = False    #: also give the gradient as the author accumulates it (Ng's Δ and D)
    course_network: CourseNetwork = EX4_NETWORK  #: the network options a user of this notation leaves out
    function_means: Optional[str] = None  #: the activation ``function`` names (Nielsen's σ: sigmoid); None: any

    def __post_init__(self):
        def refuse(what, value, accepted):
            raise ValueError(f"notation {self.name!r}: {what} {value!r} is not accepted; accepted: {', '.join(accepted)}")

        if self.layer_style not in LAYER_STYLES:
            refuse("layer_style", self.layer_style, LAYER_STYLES)
        if self.examples not in EXAMPLE_LAYOUTS:
            refuse("examples", self.examples, EXAMPLE_LAYOUTS)
        if self.bias_place not in BIAS_PLACES:
            refuse("bias_place", self.bias_place, BIAS_PLACES)
        if self.gradient_style not in GRADIENT_STYLES:
            refuse("gradient_style", self.gradient_style, GRADIENT_STYLES)
        for key in self.layer_names:
            if key not in _CANONICAL_LAYERS:
                refuse("renamed layer", key, _CANONICAL_LAYERS)
        for key in self.index_names:
            if key not in _CANONICAL_INDICES:
                refuse("renamed index", key, _CANONICAL_INDICES)
        if len(set(self.index_names.values())) != len(self.index_names):
            raise ValueError(f"notation {self.name!r}: index_names {dict(self.index_names)!r} maps two indices to one letter")
        if self.kronecker is not None and not isinstance(self.kronecker, Glyph):
            raise ValueError(f"notation {self.name!r}: kronecker must be a Glyph(latex, text) or None, not {self.kronecker!r}")
        for name in ("activation", "preactivation", "weight", "bias", "error", "cost", "batch_cost",
                     "target", "function", "size", "hadamard", "example_cost"):
            value = getattr(self, name)
            if not isinstance(value, Glyph):
                raise ValueError(f"notation {self.name!r}: {name} must be a Glyph(latex, text), not {value!r}")
        object.__setattr__(self, "layer_names", MappingProxyType(dict(self.layer_names)))
        object.__setattr__(self, "index_names", MappingProxyType(dict(self.index_names)))
        object.__setattr__(self, "batch_letters", MappingProxyType(dict(self.batch_letters)))

    def batch_letter(self, letter: Glyph) -> Glyph:
        """The letter of a batch matrix (one column or row per example) of units written ``letter``."""
        return self.batch_letters.get(letter.latex) or CAPITALS.get(letter.latex, letter)

    @property
    def has_layer_index(self) -> bool:
        return self.layer_style != "none"

    def layer_name(self, canonical: str) -> str:
        """The printed name of a generic layer symbol ('l' or 'L')."""
        return self.layer_names.get(canonical, canonical)

    def index_name(self, canonical: str) -> str:
        """The printed name of an index ('i', 'j', 'k', 'p', 'q', or 'x' over the examples)."""
        return self.index_names.get(canonical, canonical)

    def letters(self) -> frozenset:
        """Every plain letter (or name) a derivation in this notation prints: the roles, the batch
        matrices, the indices, the layers, m, x, e, λ and the transpose's T. A symbolic layer width
        with one of these names would make a derivation ambiguous."""
        glyphs = [self.activation, self.preactivation, self.weight, self.bias, self.error, self.cost,
                  self.batch_cost, self.target, self.function, self.size]
        if self.kronecker is not None:
            glyphs.append(self.kronecker)
        if self.output_activation is not None:
            glyphs.append(self.output_activation)
        glyphs += [self.batch_letter(g) for g in (self.activation, self.preactivation, self.error, self.target)]
        names = {g.text for g in glyphs}
        names |= {self.index_name(name) for name in _CANONICAL_INDICES}
        names |= {self.layer_name(name) for name in _CANONICAL_LAYERS}
        names |= {"l", "L", "m", "x", "X", "Y", "e", "T", "lambda", "λ", "sigmoid", "tanh", "ln", "log", "exp"}
        return frozenset(name for name in names if name.isidentifier())


def _g(latex: str, text: str) -> Glyph:
    return Glyph(latex, text)


NG_ML = Notation(
    name="ng-ml",
    source="Andrew Ng, Machine Learning (Coursera, 2011), lectures and ex4",
    activation=_g("a", "a"), preactivation=_g("z", "z"), weight=_g(r"\Theta", "Θ"), bias=_g("b", "b"),
    error=_g(r"\delta", "δ"), cost=_g(r"\operatorname{cost}", "cost"), batch_cost=_g("J", "J"),
    target=_g("y", "y"), function=_g("g", "g"), size=_g("s", "s"), hadamard=_g(r"\mathbin{.*}", ".*"),
    example_cost=_g(r"\operatorname{cost}^{(%s)}", "cost^(%s)"),
    batch_letters={r"\delta": _g("d", "d")},
    layer_style="paren", weight_offset=-1, size_subscript=True, function_means="sigmoid",
    bias_place="column", examples="rows", code_language="octave", accumulator_form=True,
    remarks=(("Layers are numbered 1..", _M("L", "L"), " with ", _M("a^{(1)} = x", "a^(1) = x"), "; ",
              _M(r"\Theta^{(l)}", "Θ^(l)"), " maps layer ", _M("l", "l"), " to layer ", _M("l+1", "l+1"),
              ", so the weights into layer ", _M("l", "l"), " are ", _M(r"\Theta^{(l-1)}", "Θ^(l-1)"), "."),
             ("Ng keeps the bias in column 0 of ", _M(r"\Theta^{(l)}", "Θ^(l)"), ", multiplying a bias unit ",
              _M("a^{(l)}_{0} = 1", "a^(l)_0 = 1"), "; there is no separate bias vector."),
             ("The elementwise product is written ", _M(r"\mathbin{.*}", ".*"), ", as in Octave."),
             ),
)

NG_DLS = Notation(
    name="ng-dls",
    source="Andrew Ng, Deep Learning Specialization, course 1",
    activation=_g("a", "a"), preactivation=_g("z", "z"), weight=_g("W", "W"), bias=_g("b", "b"),
    error=_g(r"dz", "dz"), cost=_g(r"\mathcal{L}", "ℒ"), batch_cost=_g("J", "J"),
    target=_g("y", "y"), function=_g("g", "g"), size=_g("n", "n"), hadamard=_g(r"*", "*"),
    example_cost=_g(r"\mathcal{L}^{(%s)}", "ℒ^(%s)"),
    layer_style="bracket", layer_offset=-1, transpose_merged=True, gradient_style="d",
    bias_place="separate", examples="columns", code_language="numpy",
    course_network=CourseNetwork("the DLS network", bias="separate", l2=0, loss="cross-entropy"),
    remarks=(("Layers are numbered 0..", _M("L", "L"), " with ", _M("a^{[0]} = x", "a^[0] = x"), "; ",
              _M("W^{[l]}", "W^[l]"), " maps layer ", _M("l-1", "l-1"), " to layer ", _M("l", "l"), "."),
             (_M("dz^{[l]}", "dz^[l]"), " stands for ", _M(r"\partial \mathcal{L}/\partial z^{[l]}", "∂ℒ/∂z^[l]"),
              "; ", _M("*", "*"), " is the elementwise product, as in numpy."),
             ),
)

NIELSEN = Notation(
    name="nielsen",
    source="Michael Nielsen, Neural Networks and Deep Learning, chapters 2 and 3",
    activation=_g("a", "a"), preactivation=_g("z", "z"), weight=_g("w", "w"), bias=_g("b", "b"),
    error=_g(r"\delta", "δ"), cost=_g("C", "C"), batch_cost=_g(r"\overline{C}", "C̄"),
    target=_g("y", "y"), function=_g(r"\sigma", "σ"), size=_g("n", "n"), hadamard=_g(r"\odot", "⊙"),
    layer_style="plain", function_means="sigmoid",
    bias_place="separate", examples="columns",
    # chapter 2, where backpropagation is derived (BP1-BP4) and network.py trains, uses the quadratic cost
    course_network=CourseNetwork("Nielsen's network", bias="separate", l2=0, loss="quadratic"),
    remarks=(("Layers are numbered 1..", _M("L", "L"), " with ", _M("a^{1} = x", "a^1 = x"), "; ",
              _M("w^{l}_{jk}", "w^l_jk"), " is the weight from unit ", _M("k", "k"), " of layer ", _M("l-1", "l-1"),
              " to unit ", _M("j", "j"), " of layer ", _M("l", "l"), " (here written with indices ", _M("i", "i"),
              " and ", _M("j", "j"), ")."),
             (_M("C", "C"), " is the cost of one example; ", _M(r"\odot", "⊙"), " is the Hadamard product."),
             ),
)

GOODFELLOW = Notation(
    name="goodfellow",
    source="Goodfellow, Bengio and Courville, Deep Learning, section 6.5",
    activation=_g("h", "h"), preactivation=_g("a", "a"), weight=_g("W", "W"), bias=_g("b", "b"),
    error=_g("g", "g"), cost=_g("L", "L"), batch_cost=_g("J", "J"),
    target=_g("y", "y"), function=_g("f", "f"), size=_g("n", "n"), hadamard=_g(r"\odot", "⊙"),
    example_cost=_g(r"L^{(%s)}", "L^(%s)"),
    layer_style="paren", layer_offset=-1, layer_names={"l": "k", "L": "l"}, index_names={"k": "r"},
    transpose_merged=True,
    gradient_style="nabla", bias_place="separate", examples="rows",
    course_network=CourseNetwork("Goodfellow's network", bias="separate", l2=0, loss="cross-entropy"),
    remarks=((_M("a^{(k)}", "a^(k)"), " is the pre-activation and ", _M("h^{(k)} = f(a^{(k)})", "h^(k) = f(a^(k))"),
              " the activation; ", _M("h^{(0)} = x", "h^(0) = x"), " and the output layer is ", _M("l", "l"),
              ", so ", _M(r"\hat{y} = h^{(l)}", "ŷ = h^(l)"), "."),
             (_M("g^{(k)} = \\nabla_{a^{(k)}} L", "g^(k) = ∇_{a^(k)} L"),
              " is the gradient that algorithm 6.4 carries down the layers; since ", _M("k", "k"),
              " numbers the layers, the units of the next layer are summed over ", _M("r", "r"), "."),
             ),
)

BISHOP = Notation(
    name="bishop",
    source="Christopher Bishop, Pattern Recognition and Machine Learning, section 5.3",
    activation=_g("z", "z"), preactivation=_g("a", "a"), weight=_g("w", "w"), bias=_g("b", "b"),
    error=_g(r"\delta", "δ"), cost=_g("E_n", "E_n"), batch_cost=_g("E", "E"),
    target=_g("t", "t"), function=_g("h", "h"), size=_g("n", "n"), hadamard=_g(r"\odot", "⊙"),
    layer_style="none", layer_offset=-1, output_activation=_g("y", "y"), index_names={"i": "j", "j": "i", "x": "n"},
    example_cost=_g(r"E_{%s}", "E_%s"),
    kronecker=_g("I", "I"),
    bias_place="separate", examples="rows",
    # 5.3.1: "biases can be included in this sum by introducing an extra unit ... with activation fixed at +1"
    course_network=CourseNetwork("Bishop's network", bias="column", l2=0, loss="cross-entropy"),
    remarks=((_M(r"a_{j} = \sum_{i} w_{ji} z_{i}", "a_j = Σ_i w_ji z_i"), " is the pre-activation and ",
              _M("z_{j} = h(a_{j})", "z_j = h(a_j)"), " the activation; the outputs are ", _M("y_{k}", "y_k"),
              " and the targets ", _M("t_{k}", "t_k"), "; ",
              _M(r"\delta_{j} = \partial E_{n}/\partial a_{j}", "δ_j = ∂E_n/∂a_j"), "."),
             ("Section 5.3 writes no layer index: the letter of the unit index says the layer (",
              _M("i", "i"), " feeds ", _M("j", "j"), ", ", _M("j", "j"), " feeds ", _M("k", "k"),
              "). Where a matrix form needs one, the layer is written ", _M("(l)", "(l)"),
              " as in (5.7)."),
             ),
)


PRESETS: tuple[Notation, ...] = (NG_ML, NG_DLS, NIELSEN, GOODFELLOW, BISHOP)
BY_NAME: Mapping[str, Notation] = MappingProxyType({preset.name: preset for preset in PRESETS})
DEFAULT = "nielsen"


def notation(spec) -> Notation:
    """The :class:`Notation` named ``spec`` ('ng-ml', 'ng-dls', 'nielsen', 'goodfellow', 'bishop'),
    or ``spec`` itself when it already is one.

    >>> notation("ng-ml").weight.latex
    '\\\\Theta'
    """
    if isinstance(spec, Notation):
        return spec
    if isinstance(spec, str) and spec in BY_NAME:
        return BY_NAME[spec]
    raise UnknownNameError("notation", str(spec), BY_NAME)
