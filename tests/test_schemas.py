"""The hand-written feedstock files validate against the schemas of their tools."""

from __future__ import annotations

import json

import jsonschema
import pytest
import yaml
from conftest import DATA, ROOT, require_data

SCHEMAS = DATA / "schemas"


def load_schema(name: str) -> dict:
    path = require_data(SCHEMAS / name, "a schema")
    return json.loads(path.read_text())


def validate(document: dict, schema: dict) -> None:
    validator = jsonschema.validators.validator_for(schema)(schema)
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors[:10])


def test_recipe_validates_against_the_recipe_v1_schema():
    validate(yaml.safe_load((ROOT / "recipe" / "recipe.yaml").read_text()), load_schema("recipe-v1.schema.json"))


def test_conda_forge_yml_validates_against_conda_smithys_schema():
    validate(yaml.safe_load((ROOT / "conda-forge.yml").read_text()), load_schema("conda-forge.schema.json"))


def test_conda_forge_yml_builds_with_rattler_build():
    assert yaml.safe_load((ROOT / "conda-forge.yml").read_text())["conda_build_tool"] == "rattler-build"


def test_a_broken_recipe_would_fail_validation():
    recipe = yaml.safe_load((ROOT / "recipe" / "recipe.yaml").read_text())
    recipe["outputs"][1]["requirement"] = recipe["outputs"][1].pop("requirements")  # a typo
    with pytest.raises(AssertionError):
        validate(recipe, load_schema("recipe-v1.schema.json"))


def test_skip_render_is_a_key_conda_smithys_schema_knows():
    forge = yaml.safe_load((ROOT / "conda-forge.yml").read_text())
    assert forge["skip_render"]
    forge["skip_rendering"] = forge.pop("skip_render")  # a misspelling conda-smithy would not read
    with pytest.raises(AssertionError, match="skip_rendering"):
        validate(forge, load_schema("conda-forge.schema.json"))


def test_a_skip_render_path_must_be_a_string():
    forge = yaml.safe_load((ROOT / "conda-forge.yml").read_text())
    forge["skip_render"] = [{"README.md": True}]
    with pytest.raises(AssertionError, match="skip_render"):
        validate(forge, load_schema("conda-forge.schema.json"))
