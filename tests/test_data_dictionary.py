"""The data dictionary: docs/data-dictionary.md is what the dbt ymls and the semantic layer say now."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from lakehouse import dictionary
from lakehouse.bi import semantic


def test_the_committed_dictionary_is_what_the_definitions_give_now():
    assert dictionary.OUTPUT.read_text() == dictionary.build(), "run `python -m lakehouse.dictionary`"


def test_a_column_added_to_a_model_yml_shows_up(tmp_path):
    models = tmp_path / "models"
    shutil.copytree(dictionary.MODELS, models)
    path = models / "marts" / "fct_orders.yml"
    spec = yaml.safe_load(path.read_text())
    spec["models"][0]["columns"].append(
        {"name": "loyalty_tier", "description": "Tier of the customer's loyalty programme.", "data_tests": ["not_null"]}
    )
    path.write_text(yaml.safe_dump(spec, sort_keys=False))

    before, after = dictionary.build(), dictionary.build(models)

    row = "| `loyalty_tier` | Tier of the customer's loyalty programme. | `not_null` |"
    assert row not in before
    assert row in after
    fct_orders = after.split("### `fct_orders`", 1)[1].split("\n### ", 1)[0]
    assert row in fct_orders


def test_a_metric_added_to_a_dataset_shows_up_expanded(tmp_path):
    superset = tmp_path / "superset"
    for folder in ("datasets", "dashboards"):
        shutil.copytree(semantic.ROOT / folder, superset / folder)
    path = superset / "datasets" / "sales_order_lines.yml"
    spec = yaml.safe_load(path.read_text())
    spec["metrics"].append({"name": "revenue_per_unit", "label": "Revenue per unit", "expression": "{revenue} / 2"})
    path.write_text(yaml.safe_dump(spec, sort_keys=False))

    text = dictionary.build(superset=superset)

    assert (
        "| `revenue_per_unit` | Revenue per unit | `(sum(case when is_cancelled then 0 else net_amount end)) / 2` |"
        in text
    )


def test_check_fails_in_one_line_on_a_stale_file_and_passes_on_a_fresh_one(tmp_path, capsys):
    output = tmp_path / "data-dictionary.md"
    output.write_text("# Data dictionary\n")

    with pytest.raises(SystemExit) as stopped:
        dictionary.main(["--check", "--output", str(output)])
    assert stopped.value.code == 1
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert output.read_text() == "# Data dictionary\n"

    dictionary.main(["--output", str(output)])
    dictionary.main(["--check", "--output", str(output)])
    assert Path(output).read_text() == dictionary.build()
