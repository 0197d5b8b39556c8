"""Tournament pairing and ranking (the command's tests play whole tournaments)."""

from negotiator.engine.tournament import Entry, Seat, games_of, rank


class _Scenario:
    def __init__(self, parties):
        self.parties = parties


def test_every_pair_plays_every_scenario_in_both_orders():
    two = Entry("two", _Scenario(("a", "b")))
    games = games_of([two], ["x", "y", "z"], self_play=False)
    assert [g.assignment for g in games] == [
        ("x", "y"), ("x", "z"), ("y", "x"), ("y", "z"), ("z", "x"), ("z", "y"),
    ]  # fmt: skip
    assert games_of([two], ["x", "y"], self_play=True)[-1].assignment == ("y", "y")


def test_with_three_roles_each_strategy_takes_each_role_against_the_other():
    three = Entry("three", _Scenario(("a", "b", "c")))
    assignments = [g.assignment for g in games_of([three], ["x", "y"], self_play=False)]
    assert sorted(assignments) == sorted(
        [("x", "y", "y"), ("y", "x", "y"), ("y", "y", "x"),
         ("y", "x", "x"), ("x", "y", "x"), ("x", "x", "y")]
    )  # fmt: skip


def _seat(strategy, utility, agreement=True, advantage=None):
    return Seat(0, strategy, utility, utility if advantage is None else advantage, agreement,
                0.0 if agreement else None, 0.1 if agreement else None, 10)  # fmt: skip


def test_ranking_is_by_mean_utility_then_advantage_then_agreement_then_name():
    seats = [
        _seat("low", 0.2), _seat("low", 0.4),
        _seat("high", 0.5), _seat("high", 0.7),
        _seat("tie-b", 0.3, advantage=0.1), _seat("tie-a", 0.3, advantage=0.1),
        _seat("tie-c", 0.3, advantage=0.2),
        _seat("walker", 0.55, agreement=False),
    ]  # fmt: skip
    standings = rank(seats, ["low", "high", "tie-a", "tie-b", "tie-c", "walker"])
    assert [s.strategy for s in standings] == ["high", "walker", "low", "tie-c", "tie-a", "tie-b"]
    high = standings[0]
    assert (high.rank, high.negotiations, high.agreement_rate) == (1, 2, 1.0)
    assert high.mean_utility == 0.6
    walker = standings[1]
    assert walker.agreement_rate == 0.0 and walker.mean_nash_distance is None
