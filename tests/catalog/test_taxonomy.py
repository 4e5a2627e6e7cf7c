from catalog import taxonomy


def test_parents_expand_to_children_and_leaves_to_themselves():
    assert "daycare" in taxonomy.expand("childcare")
    assert taxonomy.expand("daycare") == ("daycare",)
    assert taxonomy.parent("daycare") == "childcare"
    assert len(taxonomy.CATEGORIES) == 26
    assert set(taxonomy.LABELS) == set(taxonomy.CATEGORIES) | set(taxonomy.PARENTS)


def test_suggest_finds_misspellings():
    assert taxonomy.suggest("daycar")[0] == "daycare"
