"""distlab.apps.allreduce_timing: the live star-against-ring table of chapter 08, checked
for its shape and the plans' facts (rounds), never for the timings."""
from distlab.apps import allreduce_timing


def test_live_star_vs_ring_reports_the_plans(client):
    t = allreduce_timing.live_star_vs_ring(client, nodes=(2, 3), n_bytes=8 << 10)
    assert list(zip(t["nodes"], t["algorithm"])) == [(2, "star"), (2, "ring"),
                                                     (3, "star"), (3, "ring")]
    assert list(t["rounds"]) == [2, 2, 2, 4]
    assert (t["measured (ms)"] > 0).all()
