from lth import wording


def test_count_is_singular_only_for_one():
    assert wording.count(1, "trial") == "1 trial"
    assert wording.count(0, "trial") == "0 trials"
    assert wording.count(2, "round") == "2 rounds"


def test_count_separates_thousands_and_takes_irregular_plurals():
    assert wording.count(1200, "run") == "1,200 runs"
    assert wording.count(3, "criterion", "criteria") == "3 criteria"
    assert wording.count(3.0, "cell") == "3 cells"  # counts read from pandas arrive as floats
