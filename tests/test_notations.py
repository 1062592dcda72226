"""The notation presets: data records, validated, looked up by name."""
import pytest

from symbackprop.errors import UnknownNameError
from symbackprop.rendering import PRESETS, notation
from symbackprop.rendering.notations import Glyph, Notation, NG_ML


def test_five_presets():
    assert [n.name for n in PRESETS] == ["ng-ml", "ng-dls", "nielsen", "goodfellow", "bishop"]


def test_lookup_and_unknown_name():
    assert notation("ng-ml") is NG_ML
    assert notation(NG_ML) is NG_ML
    with pytest.raises(UnknownNameError, match="unknown notation 'ng'; accepted: ng-ml, ng-dls, nielsen"):
        notation("ng")


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.name)
def test_preset_facts(preset):
    facts = {  # (activation, pre-activation, weight, layer style, layer offset, weight offset, elementwise product)
        "ng-ml": ("a", "z", r"\Theta", "paren", 0, -1, r"\mathbin{.*}"),
        "ng-dls": ("a", "z", "W", "bracket", -1, 0, "*"),
        "nielsen": ("a", "z", "w", "plain", 0, 0, r"\odot"),
        "goodfellow": ("h", "a", "W", "paren", -1, 0, r"\odot"),   # a and h: pre-activation and activation
        "bishop": ("z", "a", "w", "none", -1, 0, r"\odot"),         # z and a swapped, no layer index
    }[preset.name]
    assert (preset.activation.latex, preset.preactivation.latex, preset.weight.latex, preset.layer_style,
            preset.layer_offset, preset.weight_offset, preset.hadamard.latex) == facts


def test_costs_bias_and_examples():
    by = {n.name: n for n in PRESETS}
    assert [by[n].batch_cost.latex for n in ("ng-ml", "ng-dls", "goodfellow", "bishop")] == ["J", "J", "J", "E"]
    assert by["nielsen"].cost.latex == "C" and by["bishop"].cost.latex == "E_n"
    assert by["ng-ml"].bias_place == "column" and by["ng-dls"].bias_place == "separate"
    assert by["ng-dls"].examples == "columns" and by["ng-ml"].examples == "rows"


def test_a_bad_record_is_refused():
    with pytest.raises(ValueError, match="layer_style 'sideways' is not accepted"):
        Notation(name="x", source="", activation=Glyph("a", "a"), preactivation=Glyph("z", "z"),
                 weight=Glyph("W", "W"), bias=Glyph("b", "b"), error=Glyph("d", "d"), cost=Glyph("C", "C"),
                 batch_cost=Glyph("J", "J"), target=Glyph("y", "y"), function=Glyph("g", "g"),
                 size=Glyph("n", "n"), hadamard=Glyph("*", "*"), layer_style="sideways")


@pytest.mark.parametrize("name, number_shift, weight_shift, layer_letters, weight_letter", [
    # NOTATIONS.md: ng-dls and Goodfellow count the input as layer 0; Ng's Θ^(l) maps l to l+1;
    # Goodfellow writes k for a hidden layer and l for the output layer.
    ("ng-ml", 0, 1, {"l": "l", "L": "L"}, r"\Theta"),
    ("ng-dls", 1, 0, {"l": "l", "L": "L"}, "W"),
    ("nielsen", 0, 0, {"l": "l", "L": "L"}, "w"),
    ("goodfellow", 1, 0, {"k": "l", "l": "L"}, "W"),
    ("bishop", 1, 0, {"l": "l", "L": "L"}, "w"),
])
def test_the_reading_side_takes_its_layer_facts_from_the_notation(name, number_shift, weight_shift, layer_letters,
                                                                 weight_letter):
    from symbackprop.checker._conventions import convention
    reading = convention(name)
    assert (reading.number_shift, reading.weight_shift, dict(reading.layer_letters), reading.weight_letter) == \
        (number_shift, weight_shift, layer_letters, weight_letter)


def test_a_reading_convention_without_a_printing_notation_must_state_its_layer_facts():
    from symbackprop.checker._conventions import Convention
    with pytest.raises(ValueError, match="convention 'mine' has no printing notation .* must give number_shift"):
        Convention("mine", letters={}, batch_letters={}, functions=(), cost_letters={})
    own = Convention("mine", letters={}, batch_letters={}, functions=(), cost_letters={}, number_shift=0,
                     weight_shift=0, layer_letters={"l": "l"}, weight_letter="W")
    assert own.number_shift == 0 and dict(own.layer_letters) == {"l": "l"}
