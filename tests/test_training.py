"""Chapter 6 training: the model's arithmetic, the equivalences the chapter states, every
strategy on a real cluster, recovery from a killed worker, and bad input."""
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from distlab.apps import training as T


# ---- data and model, no cluster --------------------------------------------------------

def test_split_is_seeded_standardised_and_read_only():
    X, y, X_test, y_test = T.load_split(0)
    assert X.shape == (1347, 65) and X_test.shape == (450, 65)
    assert np.all(X[:, -1] == 1.0)                            # the bias column
    np.testing.assert_allclose(X[:, :-1].mean(axis=0), 0, atol=1e-12)
    assert sorted(np.unique(y)) == list(range(10))
    with pytest.raises(ValueError):
        X[0, 0] = 1.0                                         # cached: nobody may change it
    again = T.load_split(0)
    assert all(a is b for a, b in zip(again, T.load_split(0)))
    assert not np.array_equal(T.load_split(1)[1], y)


def test_digits_are_exactly_scikit_learns():
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    ours_X, ours_y = T.load_digits()
    np.testing.assert_array_equal(ours_X, X)
    np.testing.assert_array_equal(ours_y, y)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from([0.1, 0.25, 0.5]))
def test_stratified_split_keeps_class_proportions(seed, test_size):
    _, y = T.load_digits()
    train, test = T.stratified_split(y, test_size, seed)
    assert len(np.intersect1d(train, test)) == 0 and len(train) + len(test) == len(y)
    for label in range(10):
        n = np.sum(y == label)
        assert np.sum(y[test] == label) == int(round(n * test_size))


@pytest.mark.parametrize("nodes", [1, 2, 3, 4, 7])
def test_shards_partition_the_training_set(nodes):
    X, y, _, _ = T.load_split(0)
    shards = [T.load_shard(i, nodes) for i in range(nodes)]
    assert sum(len(s[1]) for s in shards) == len(y)
    rows = np.concatenate([s[0] for s in shards])
    # every training row exactly once: compare sorted rows
    assert np.array_equal(np.unique(rows, axis=0), np.unique(X, axis=0))
    assert max(len(s[1]) for s in shards) - min(len(s[1]) for s in shards) <= 1


def test_gradient_matches_finite_differences():
    X, y, _, _ = T.load_split(0)
    X, y = X[:40], y[:40]
    params = np.random.default_rng(0).normal(scale=0.1, size=(65, 10))
    g = T.gradient(params, X, y)
    for (i, j) in [(0, 0), (10, 3), (64, 9), (33, 5)]:
        e = np.zeros_like(params)
        e[i, j] = 1e-6
        numeric = (T.loss(params + e, X, y) - T.loss(params - e, X, y)) / 2e-6
        assert g[i, j] == pytest.approx(numeric, rel=1e-5, abs=1e-8)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 500), st.integers(1, 64), st.integers(0, 10), st.integers(0, 7),
       st.integers(0, 200))
def test_batches_are_distinct_rows_and_reproducible(n_rows, batch, seed, node, step):
    if batch > n_rows:
        with pytest.raises(ValueError, match="batch"):
            T.batch_rows(n_rows, batch, seed, node, step)
        return
    rows = T.batch_rows(n_rows, batch, seed, node, step)
    assert len(rows) == batch == len(set(rows.tolist()))
    assert rows.min() >= 0 and rows.max() < n_rows
    np.testing.assert_array_equal(rows, T.batch_rows(n_rows, batch, seed, node, step))


def test_an_epoch_visits_each_row_at_most_once():
    per_epoch = 100 // 7
    seen = np.concatenate([T.batch_rows(100, 7, 0, 0, s) for s in range(per_epoch)])
    assert len(seen) == len(set(seen.tolist())) == per_epoch * 7


@settings(max_examples=100, deadline=None)
@given(st.sampled_from([1, 2, 4, 8]), st.sampled_from([1.0, 0.5, 0.25, 2.0]),
       st.integers(0, 2**31 - 1))
def test_averaging_parameters_equals_averaging_gradients_exactly(n, lr, seed):
    # Dyadic numbers, power-of-two node counts and learning rates: no rounding anywhere, so
    # mean(θ − η g_i) == θ − η mean(g_i) holds bit for bit, as algebra says it must.
    rng = np.random.default_rng(seed)
    theta = rng.integers(-64, 64, size=(5, 3)) / 8.0
    grads = [rng.integers(-64, 64, size=(5, 3)) / 8.0 for _ in range(n)]
    by_params = np.mean([T.apply_gradient(theta, g, lr) for g in grads], axis=0)
    by_grads = T.apply_gradient(theta, np.mean(grads, axis=0), lr)
    np.testing.assert_array_equal(by_params, by_grads)


def test_single_process_reaches_scikit_learn_within_one_point():
    history = T.train("single")
    assert list(history.columns) == ["strategy", "round", "steps", "samples", "bytes",
                                     "loss", "accuracy", "consensus"]
    assert (history["samples"] == history["steps"] * 4 * 64).all()
    assert history["round"].tolist() == list(range(T.DEFAULT_ROUNDS["single"] + 1))
    assert (history["bytes"] == 0).all()
    assert history["loss"].iloc[-1] < history["loss"].iloc[0] / 5
    assert history["accuracy"].iloc[-1] >= T.sklearn_accuracy() - 0.01
    again = T.train("single")
    pd.testing.assert_frame_equal(history, again)                # seeded


def test_linear_lr_scaling_reaches_the_target_on_fewer_samples():
    """Synchronous SGD on 4 × 64 rows at lr 2.0 (tuned for 64) against lr 8.0 (the linear
    scaling rule); local SGD's H = 16 steps per round cost it samples, not rounds."""
    from distlab.apps.training.virtual_time import Timing, simulate

    target = T.sklearn_accuracy() - 0.01
    plain = T.train("single", lr=2.0)
    scaled = T.train("single", lr=T.linear_scaled_lr(2.0, 4 * 64, 64))
    local = simulate("local", T.TrainingConfig(), Timing(), until=6 * 16.25)
    table = T.summary({"lr 2.0": plain, "lr 8.0": scaled, "local": local}, target)
    samples = table["samples_to_target"]
    assert samples["lr 8.0"] < samples["lr 2.0"] < samples["local"]
    assert (samples // 256 == table["rounds_to_target"] * [1, 1, 16]).all()


def test_rounds_to_and_summary():
    h = pd.DataFrame(dict(strategy="x", round=[0, 1, 2, 3], steps=[0, 1, 2, 3],
                          bytes=[0, 10, 20, 30], loss=[2.0, 1.0, 0.5, 0.4],
                          accuracy=[0.1, 0.5, 0.9, 0.8], consensus=0.0))
    assert T.rounds_to(h, 0.9) == 2
    assert T.rounds_to(h, 0.95) is None
    row = T.summary(h, 0.5).loc["x"]
    assert row["rounds_to_target"] == 1 and row["bytes_to_target"] == 10
    assert row["accuracy"] == 0.8
    with pytest.raises(TypeError, match="history"):
        T.rounds_to([1, 2], 0.5)
    named = T.summary({"run a": h, "run b": h.assign(samples=h["steps"] * 8)}, 0.5)
    assert list(named.index) == ["run a", "run b"]
    assert named.loc["run b", "samples_to_target"] == 8


# ---- bad input --------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, error, match", [
    (dict(strategy="magic"), ValueError, "unknown strategy 'magic'; known strategies: single"),
    (dict(strategy=3), TypeError, "strategy must be a string"),
    (dict(strategy="single", nodes=0), ValueError, "nodes must be ≥ 1"),
    (dict(strategy="single", nodes=2.5), TypeError, "nodes must be an int"),
    (dict(strategy="single", local_steps=0), ValueError, r"local_steps \(H\) must be ≥ 1"),
    (dict(strategy="single", lr=-1), ValueError, "lr must be > 0"),
    (dict(strategy="single", lr=float("nan")), ValueError, "lr must be finite"),
    (dict(strategy="single", rounds=0), ValueError, "rounds must be ≥ 1"),
    (dict(strategy="single", staleness=-1), ValueError, "staleness must be ≥ 0"),
    (dict(strategy="single", nodes=5000), ValueError, "empty shards"),
    (dict(strategy="single", nodes=100, batch=32), ValueError, "batch .* must not exceed"),
    (dict(strategy="single", kill_at=3), ValueError, "kill_at needs a cluster"),
    (dict(strategy="sync", rounds=5, kill_at=5), ValueError, "kill_at must be a round before"),
    (dict(strategy="sync"), TypeError, "client must be a distributed.Client"),
    (dict(strategy="sync", algorithm="gossip_ring"), ValueError, "exact all-reduce"),
    (dict(strategy="single", label_skew=2), ValueError, "label_skew"),
])
def test_bad_input_is_rejected_clearly(kwargs, error, match):
    with pytest.raises(error, match=match):
        T.train(**kwargs)


def test_bad_shard_requests():
    with pytest.raises(ValueError, match="node must be below nodes"):
        T.load_shard(4, 4)
    with pytest.raises(ValueError, match="nodes must be ≥ 1"):
        T.load_shard(0, 0)
    with pytest.raises(ValueError, match="empty shard"):
        T.load_shard(1500, 1501)


# ---- on the cluster -----------------------------------------------------------------------

def test_sync_on_the_cluster_is_the_single_process_run(client):
    single = T.train("single", rounds=6)
    sync = T.train("sync", client, rounds=6, checkpoint_every=4)
    np.testing.assert_allclose(sync["loss"], single["loss"], rtol=1e-12)
    np.testing.assert_allclose(sync.attrs["params"], single.attrs["params"], atol=1e-12)
    # 4 nodes, recursive doubling: 2 rounds, each node sends its whole 5,200-byte gradient
    # every round
    assert sync["bytes"].diff().iloc[1:].eq(4 * 2 * 65 * 10 * 8).all()


def test_local_sgd_with_one_step_equals_sync(client):
    sync = T.train("sync", client, rounds=4, algorithm="ring")
    local = T.train("local", client, rounds=4, local_steps=1, algorithm="ring")
    np.testing.assert_allclose(local.attrs["params"], sync.attrs["params"], atol=1e-12)
    np.testing.assert_allclose(local["accuracy"], sync["accuracy"])


def test_local_sgd_needs_four_times_fewer_rounds(client):
    target = T.sklearn_accuracy() - 0.01
    sync = T.train("sync", client, rounds=25)
    local = T.train("local", client, rounds=4)
    assert T.rounds_to(local, target) * 4 <= T.rounds_to(sync, target)
    assert local["accuracy"].iloc[-1] >= target


def test_async_is_reproducible_and_bounded(client):
    a = T.train("async", client, rounds=6, staleness=3)
    b = T.train("async", client, rounds=6, staleness=3)
    pd.testing.assert_frame_equal(a, b)
    assert max(a.attrs["staleness"]) <= 3 and len(a.attrs["staleness"]) == 6 * 4
    fresh = T.train("async", client, rounds=6, staleness=0)
    assert set(fresh.attrs["staleness"]) == {0}
    assert a["bytes"].iloc[-1] == 6 * 4 * 2 * 65 * 10 * 8        # push g, pull θ, per node


def test_gossip_nodes_disagree_but_learn(client):
    g = T.train("gossip", client, rounds=3)
    assert (g["consensus"].iloc[1:] > 0).all()
    assert g["accuracy"].iloc[-1] > 0.9
    # a ring of 4: every node sends its model to its 2 neighbours each round
    assert g["bytes"].iloc[-1] == 3 * 4 * 2 * 65 * 10 * 8


def test_a_killed_worker_leaves_the_result_unchanged(client):
    clean = T.train("local", client, rounds=5, checkpoint_every=2)
    hurt = T.train("local", client, rounds=5, checkpoint_every=2, kill_at=3)
    assert hurt.attrs["restarts"] == 1 and hurt.attrs["killed"] in (0, 1)
    pd.testing.assert_frame_equal(clean, hurt)
    np.testing.assert_array_equal(clean.attrs["params"], hurt.attrs["params"])
    assert len(client.nthreads()) == 2                         # the nanny brought it back


def test_describe_shards(client):
    frame = T.describe_shards(client, nodes=3)
    assert frame["rows"].sum() == 1347 and len(frame) == 3
    assert (frame.drop(columns="rows") > 0).all().all()
    skewed = T.describe_shards(client, nodes=4, label_skew=1.0)
    assert skewed["rows"].sum() == 1347
    assert ((skewed.drop(columns="rows") > 0).sum(axis=1) <= 4).all()


def test_non_iid_shards_hurt_local_sgd_not_sync(client):
    """Sync computes the gradient of the union of the nodes' batches, whatever the shards
    hold; local SGD drifts towards each node's own digits between averages."""
    sync = T.train("sync", client, rounds=6, label_skew=0.8)
    single = T.train("single", rounds=6, label_skew=0.8)
    np.testing.assert_allclose(sync.attrs["params"], single.attrs["params"], atol=1e-12)
    iid = T.train("local", client, rounds=4)
    skewed = T.train("local", client, rounds=4, label_skew=0.8)
    assert skewed["accuracy"].iloc[-1] < iid["accuracy"].iloc[-1]


def test_chapter_06_self_checks():
    from distlab.present import exercises
    # the training chapter's own checks (the exercise cells at the end add more)
    assert {"06.equivalence", "06.hedge-load", "06.hot-load",
            "06.local-rounds"} <= set(exercises.all_ids("06"))
    right = {"06.equivalence": "yes", "06.local-rounds": "96", "06.hedge-load": "5%",
             "06.hot-load": "1"}
    wrong = {"06.equivalence": "no", "06.local-rounds": "6", "06.hedge-load": "50",
             "06.hot-load": "1.36"}
    for exercise_id, answer in right.items():
        assert exercises.check(exercise_id, answer).correct
    for exercise_id, answer in wrong.items():
        feedback = exercises.check(exercise_id, answer)
        assert not feedback.correct and "Hint" in feedback.message


def test_plot_draws_loss_and_accuracy_against_rounds_samples_and_bytes():
    import matplotlib
    matplotlib.use("Agg")
    from distlab.present import training_plots

    fig = training_plots.plot(T.train("single", rounds=3), target=0.9)
    assert [ax.get_xlabel() for ax in fig.axes[3:]] == ["communication rounds",
                                                        "examples processed (all nodes)",
                                                        "kB sent between nodes"]
    assert fig.axes[0].get_ylabel() == "training loss"
    named = training_plots.plot({"lr 2.0": T.train("single", rounds=2)})
    assert named.axes[0].get_legend_handles_labels()[1] == ["lr 2.0"]
