"""The saved format's lineage: optional, checked, backward compatible; the version id names content."""

import json
import shutil

import numpy as np
import pytest

from irtrouter.errors import RouterFormatError
from irtrouter.routing import load_router
from irtrouter.routing.persistence import (
    CONFIG_FILE,
    WEIGHTS_FILE,
    Lineage,
    read_lineage,
    read_router_dir,
    router_version_id,
    write_router_dir,
)


def test_a_directory_without_lineage_is_version_zero_and_still_loads(trained_dir):
    assert "lineage" not in json.loads((trained_dir / CONFIG_FILE).read_text())
    assert read_lineage(trained_dir) == Lineage(0, None, None, {})
    assert load_router(trained_dir).llm_ids  # old directories load unchanged


def test_lineage_round_trips_through_the_directory(tmp_path):
    lineage = Lineage().child("routers/v0", {"n_feedback": 3, "llms": {"a": {"shift": [0.5]}}}, created_at=12.5)
    write_router_dir(tmp_path, {"router_kind": "irt"}, {"w": np.arange(3.0)}, lineage=lineage)
    assert read_lineage(tmp_path) == lineage
    config, _ = read_router_dir(tmp_path)
    assert config["lineage"] == {"version": 1, "parent": "routers/v0", "created_at": 12.5, "changes": lineage.changes}


def test_a_router_with_lineage_loads(trained_dir, tmp_path):
    config, arrays = read_router_dir(trained_dir)
    write_router_dir(tmp_path, config, arrays, lineage=Lineage().child(str(trained_dir), {}, created_at=1.0))
    assert load_router(tmp_path).llm_ids == load_router(trained_dir).llm_ids
    assert read_lineage(tmp_path).version == 1


@pytest.mark.parametrize(
    "bad, fragment",
    [
        ([], "must be an object"),
        ({"version": -1}, "version must be a whole number"),
        ({"version": True}, "version must be a whole number"),
        ({"version": 1, "parent": 3}, "parent must be a string"),
        ({"version": 1, "created_at": "yesterday"}, "created_at must be unix seconds"),
        ({"version": 1, "changes": [1]}, "changes must be an object"),
    ],
)
def test_a_malformed_lineage_is_a_format_error_on_load(tmp_path, bad, fragment):
    write_router_dir(tmp_path, {}, {"w": np.zeros(1)})
    config = json.loads((tmp_path / CONFIG_FILE).read_text())
    config["lineage"] = bad
    (tmp_path / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(RouterFormatError, match=fragment):
        read_lineage(tmp_path)
    with pytest.raises(RouterFormatError, match=fragment):
        read_router_dir(tmp_path)


def test_version_id_is_stable_across_copies_and_changes_with_any_byte(trained_dir, tmp_path):
    vid = router_version_id(trained_dir)
    assert vid.startswith("v0-") and len(vid) == len("v0-") + 12
    load_router(trained_dir)
    assert router_version_id(trained_dir) == vid  # loading reads, never writes
    copy = tmp_path / "copy"
    shutil.copytree(trained_dir, copy)
    assert router_version_id(copy) == vid  # names the content, not the path
    config, arrays = read_router_dir(copy)
    arrays["predictor.abilities"] = arrays["predictor.abilities"] + np.float32(1e-3)
    write_router_dir(copy, config, arrays)
    assert router_version_id(copy) != vid
    child = tmp_path / "child"
    write_router_dir(child, *read_router_dir(trained_dir), lineage=Lineage().child(str(trained_dir), {}, 2.0))
    assert router_version_id(child).startswith("v1-")


def test_version_id_of_a_missing_directory_is_a_format_error(tmp_path):
    with pytest.raises(RouterFormatError, match=WEIGHTS_FILE):
        router_version_id(tmp_path)
