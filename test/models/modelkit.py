"""What the model build scripts of this folder and their tests share: model inputs and children,
model outputs of a child, saving a model headless, and checking that a saved .model3 is what its
build script builds."""
from __future__ import annotations

import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BAND_ROLES = (("BLUE", "Blue band"), ("GREEN", "Green band"), ("RED", "Red band"), ("NIR", "Near-infrared band"),
              ("SWIR1", "Shortwave-infrared 1 band"), ("SWIR2", "Shortwave-infrared 2 band"),
              ("THERMAL", "Thermal band"))


def set_sources(child, sources):
    """Parameter sources of a model child, one addParameterSources call per parameter
    (setParameterSources with a dict crashes PyQGIS 3.22)."""
    for name, value in sources.items():
        child.addParameterSources(name, value)


def set_model_outputs(child, specs):
    """Give ``child`` (a QgsProcessingModelChildAlgorithm) model outputs from
    (model output name, child output name, description, mandatory) tuples."""
    from qgis.core import QgsProcessingModelOutput
    outputs = {}
    for name, child_output, description, mandatory in specs:
        out = QgsProcessingModelOutput(name, description)
        out.setChildId(child.childId())
        out.setChildOutputName(child_output)
        out.setMandatory(mandatory)
        outputs[name] = out
    child.setModelOutputs(outputs)


def add_parameter(model, definition, x, y):
    """Add the model input ``definition`` to ``model``, drawn at (x, y)."""
    from qgis.core import QgsProcessingModelParameter
    from qgis.PyQt.QtCore import QPointF
    component = QgsProcessingModelParameter(definition.name())
    component.setPosition(QPointF(x, y))
    model.addModelParameter(definition, component)


def with_defaults(alg_id, sources):
    """``sources`` completed with a static value for every other input parameter of ``alg_id``: the
    algorithm's default. The Graphical Modeler marks a child invalid ("Parameter X is mandatory") when a
    mandatory parameter has no source, even if the algorithm has a default for it (issue 11, defect 14), and
    a model that states every value keeps doing the same when a default of the algorithm changes. Optional
    parameters without a default get an explicit empty value, as the Modeler saves them."""
    from qgis.core import QgsApplication, QgsProcessingModelChildParameterSource
    alg = QgsApplication.processingRegistry().algorithmById(alg_id)
    if alg is None:
        raise RuntimeError(f"{alg_id} is not registered")
    full = dict(sources)
    for definition in alg.parameterDefinitions():
        if definition.isDestination() or definition.name() in full:
            continue
        full[definition.name()] = [QgsProcessingModelChildParameterSource.fromStaticValue(definition.defaultValue())]
    return full


def add_child(model, alg_id, child_id, description, sources, x, y, outputs=()):
    """Add a child algorithm ``alg_id`` with its parameter ``sources`` (every other input parameter set to the
    algorithm's default, see with_defaults) and model ``outputs`` (see set_model_outputs), drawn at (x, y);
    returns it."""
    from qgis.core import QgsProcessingModelChildAlgorithm
    from qgis.PyQt.QtCore import QPointF
    child = QgsProcessingModelChildAlgorithm(alg_id)
    child.setChildId(child_id)
    child.setDescription(description)
    set_sources(child, with_defaults(alg_id, sources))
    if outputs:
        set_model_outputs(child, outputs)
    child.setPosition(QPointF(x, y))
    model.addChildAlgorithm(child)
    return child


def finish(model):
    """Last step of every build script: the model's destination parameters from the children's model outputs,
    and the order of its inputs as they were added (the order a user fills them in: sensor and radiometry
    first). Without an order QGIS lists the inputs of a saved model alphabetically (BLUE ... THERMAL before
    SENSOR); QgsProcessingModelAlgorithm.setParameterOrder is there on every supported QGIS (3.22 too) and
    the order is saved in the .model3 ("parameterOrder")."""
    model.updateDestinationParameters()
    model.setParameterOrder([d.name() for d in model.parameterDefinitions() if not d.isDestination()])
    return model


def input_order(model):
    """The names of the model's inputs (not its destination parameters) in the order QGIS shows them."""
    return [d.name() for d in model.parameterDefinitions() if not d.isDestination()]


def validation_issues(model):
    """What the Graphical Modeler reports when the model is run (QgsProcessingModelAlgorithm.validate(): "Model
    is Invalid" with one line per issue, e.g. "<b>child</b>: Parameter <i>X</i> is mandatory"); [] when valid."""
    ok, issues = model.validate()
    assert ok == (not issues), (ok, issues)
    return list(issues)


def save_model(build_model, path):
    """Start QGIS headless with the Mining Eco provider, build the model and save it to ``path``."""
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    from mining_eco_plugin.provider import MiningEcoProvider
    provider = MiningEcoProvider()
    QgsApplication.processingRegistry().addProvider(provider)
    model = build_model()
    if not model.toFile(path):
        raise SystemExit(f"cannot write {path}")
    print(path)
    del model
    QgsApplication.processingRegistry().removeProvider(provider)


def load_builder(script):
    """The build script ``script`` (a file name in this folder) as a module."""
    spec = importlib.util.spec_from_file_location(os.path.splitext(script)[0], os.path.join(HERE, script))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _value(value):
    """A parameter value or default as plain, comparable text (QVariant-free; None for unset)."""
    if value is None or (hasattr(value, "isNull") and value.isNull()):
        return None
    if isinstance(value, (list, tuple)):
        return [_value(v) for v in value]
    return repr(value)


def model_essentials(model):
    """What a model does, independent of how a QGIS version serialises it: its inputs (name, type,
    description, default, flags), its children (algorithm, description, every parameter's sources: static
    value, model input, child output or expression; dependencies; model outputs) and nothing of the canvas.
    QGIS 3.40 writes a .model3 differently from 3.22 (new keys, other defaults of the layout), so a saved
    file is compared with its build script through this, not through toVariant (issue 10, failure 4).
    Model outputs are compared as the children declare them (name, child output, description, mandatory)."""
    # destination parameters are generated by QGIS from the children's model outputs (compared below), under
    # version-specific names: 3.22 "rsei:RSEI", 3.40 "rsei" for a model built there
    inputs = sorted((d.name(), d.type(), d.description(), _value(d.defaultValue()), int(d.flags()))
                    for d in model.parameterDefinitions() if not d.isDestination())
    children = {}
    for child_id, child in model.childAlgorithms().items():
        sources = {name: [(str(s.source()), _value(s.staticValue()), s.parameterName(), s.outputChildId(),
                           s.outputName(), s.expression()) for s in sources]
                   for name, sources in child.parameterSources().items()}
        outputs = {name: (o.childOutputName(), o.description(), o.isMandatory())
                   for name, o in child.modelOutputs().items()}
        dependencies = sorted(str(getattr(d, "childId", d)) for d in child.dependencies())
        children[child_id] = (child.algorithmId(), child.description(), sources, outputs, dependencies)
    return {"name": model.name(), "group": model.group(), "inputs": inputs, "input_order": input_order(model),
            "children": children}


def saved_model_as_built(script, model_path, tmp_path):
    """The saved model, after asserting it does what ``script`` builds now (no stale .model3)."""
    from qgis.core import QgsProcessingModelAlgorithm
    rebuilt = str(tmp_path / "rebuilt.model3")
    assert load_builder(script).build_model().toFile(rebuilt)
    saved, fresh = QgsProcessingModelAlgorithm(), QgsProcessingModelAlgorithm()
    assert saved.fromFile(model_path) and fresh.fromFile(rebuilt)
    assert model_essentials(saved) == model_essentials(fresh)
    assert len(model_essentials(saved)["children"]) >= 2   # the comparison is not vacuous
    return saved
