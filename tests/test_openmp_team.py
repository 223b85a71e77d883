"""The gradient kernels on XGBoost's own OpenMP team (boostfocal/kernels/openmp_team.py): the same
results as the serial kernels to the bit, the first bad row and input found across pieces, the team
taken only where it applies, and the same boosters as without it."""

import os
import threading

import numpy as np
import pytest

numba = pytest.importorskip("numba")
xgboost = pytest.importorskip("xgboost")

from boostfocal import BinaryFocalLoss, FocalLoss  # noqa: E402
from boostfocal.adapters import xgboost_capi  # noqa: E402
from boostfocal.kernels import binary, multiclass, openmp_team, threads  # noqa: E402

pytestmark = pytest.mark.skipif(not os.sys.platform.startswith("linux"), reason="GNU OpenMP runtimes: Linux")
TEAM_RULE = openmp_team.TEAM_FROM_ENTRIES  # the size rule as shipped (the tests below lift it)


@pytest.fixture(scope="module")
def team():
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs NUMBA_NUM_THREADS >= 2")
    found = openmp_team.team_of(xgboost_capi.library_path(), 3)
    # XGBoost's Linux wheels run on a GNU OpenMP runtime, whose GOMP_parallel the team calls.
    assert found is not None and found.workers >= 2
    assert os.path.basename(found.runtime_path).startswith("libgomp")
    assert found.from_entries == TEAM_RULE > 0
    found.from_entries = 0  # the tests below hold the team's work to the kernels' on small inputs too
    return found


@pytest.fixture(autouse=True)
def teams_take_every_size(monkeypatch):
    """Teams made in these tests' trainings take calls of any size (more than one chunk), as the
    fixture's team does; test_the_team_takes_calls_from_its_size_on checks the size rule."""
    monkeypatch.setattr(openmp_team, "TEAM_FROM_ENTRIES", 0)


def multiclass_inputs(n, k, seed=0, weighted=False):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, k, n).astype(np.float32)
    raw = (rng.normal(size=(n, k)) * 4).astype(np.float32)
    raw[::97] *= 2000.0  # p_t -> 0 and -> 1 rows
    weights = rng.random(n) + 0.1 if weighted else np.empty(0)
    return labels, raw, rng.random(k) + 0.5, weights


@pytest.mark.parametrize("n", [2049, 10_000, 65_537])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("policy", [multiclass.HESSIAN_EXACT, multiclass.HESSIAN_PSD, multiclass.HESSIAN_FLOOR])
def test_multiclass_on_the_team_equals_the_serial_kernel_to_the_bit(team, n, weighted, policy):
    labels, raw, alpha, weights = multiclass_inputs(n, 5, seed=n, weighted=weighted)
    expected = [np.empty_like(raw), np.empty_like(raw)]
    found = multiclass.focal_loss_gradient_hessian.serial(labels, raw, alpha, weights, 1.7, policy, 1e-6, *expected)
    got = [np.full_like(raw, np.nan), np.full_like(raw, np.nan)]
    assert team.multiclass(labels, raw, alpha, weights, 1.7, policy, 1e-6, *got) == tuple(found) == (-1, -1)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


@pytest.mark.parametrize("n", [4097, 50_001])
@pytest.mark.parametrize("soft_labels", [False, True])
def test_binary_on_the_team_equals_the_serial_kernel_to_the_bit(team, n, soft_labels):
    rng = np.random.default_rng(n)
    labels = (rng.random(n) if soft_labels else (rng.random(n) < 0.2)).astype(np.float32)
    raw = (rng.normal(size=n) * 5).astype(np.float32)
    raw[::101] = 1e4
    alpha, weights = np.array([0.3, 0.7]), rng.random(n)
    expected = [np.empty_like(raw), np.empty_like(raw)]
    found = binary.focal_loss_gradient_hessian.serial(labels, raw, alpha, weights, 2.5, binary.HESSIAN_PSD, 1e-6,
                                                      soft_labels, np.empty(0, np.float32), *expected)
    got = [np.full_like(raw, np.nan), np.full_like(raw, np.nan)]
    result = team.binary(labels, raw, alpha, weights, 2.5, binary.HESSIAN_PSD, 1e-6, soft_labels, *got)
    assert result == tuple(found) == (-1, -1)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


def test_the_first_bad_row_and_input_over_the_pieces(team):
    labels, raw, alpha, weights = multiclass_inputs(40_000, 4)
    raw[31_000, 2], raw[12_345, 0] = np.nan, np.inf  # two bad rows in different pieces
    labels[39_999], labels[20_001] = 4.0, 1.5  # out of range, not an integer
    gradient, hessian = np.empty_like(raw), np.empty_like(raw)
    assert team.multiclass(labels, raw, alpha, weights, 2.0, 0, 0.0, gradient, hessian) == (12_345, 20_001)
    assert np.isnan(gradient[12_345]).all() and np.isnan(hessian[31_000]).all()
    # And through the loss, the error names the problem (the complete checks rebuild it).
    loss = FocalLoss(2.0)
    with pytest.raises(ValueError, match="non-integer"):
        loss._gradient_hessian_into(labels, raw, loss._kernel_alpha(4), weights, gradient, hessian, team)


def test_binary_first_bad_row_and_input_over_the_pieces(team):
    rng = np.random.default_rng(5)
    n = 60_000
    labels, raw = (rng.random(n) < 0.3).astype(np.float32), rng.normal(size=n).astype(np.float32)
    raw[50_000], raw[17_777] = np.inf, np.nan
    labels[40_000] = 2.0  # not 0 or 1
    weights = rng.random(n)
    weights[33_333] = -1.0  # negative: earlier than the bad label
    out = [np.empty_like(raw), np.empty_like(raw)]
    result = team.binary(labels, raw, np.array([0.5, 0.5]), weights, 2.0, binary.HESSIAN_PSD, 1e-6, False, *out)
    assert result == (17_777, 33_333)
    assert np.isnan(out[0][17_777]) and np.isnan(out[1][50_000])


def test_fewer_workers_than_team_threads_give_the_same_results(team):
    """The team is XGBoost's size; the kernel thread setting may let fewer of its threads work."""
    labels, raw, alpha, weights = multiclass_inputs(30_000, 6, seed=9, weighted=True)
    expected = [np.empty_like(raw), np.empty_like(raw)]
    multiclass.focal_loss_gradient_hessian.serial(labels, raw, alpha, weights, 2.0, 1, 1e-6, *expected)
    one_worker = openmp_team.OpenMPTeam(team.runtime_path, team_threads=team.team_threads, workers=1)
    got = [np.full_like(raw, np.nan), np.full_like(raw, np.nan)]
    assert one_worker.multiclass(labels, raw, alpha, weights, 2.0, 1, 1e-6, *got) == (-1, -1)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])
    # No worker at all: no piece runs, and the call says so (None) instead of returning stale rows.
    idle = openmp_team.OpenMPTeam(team.runtime_path, team_threads=team.team_threads, workers=0)
    assert idle.multiclass(labels, raw, alpha, weights, 2.0, 1, 1e-6, *got) is None


def test_the_team_takes_xgboosts_own_thread_count(monkeypatch):
    class Runtime:  # stands in for the OpenMP library: 8 processors, OMP_NUM_THREADS=6
        omp_get_num_procs = staticmethod(lambda: 8)
        omp_get_max_threads = staticmethod(lambda: 6)
        omp_get_thread_limit = staticmethod(lambda: 2**31 - 1)

    monkeypatch.setattr(openmp_team, "cgroup_cpu_count", lambda: -1)
    assert openmp_team.xgboost_threads(Runtime, 0) == 6  # unset: all XGBoost may use
    assert openmp_team.xgboost_threads(Runtime, 4) == 4
    assert openmp_team.xgboost_threads(Runtime, 12) == 6  # capped, as XGBoost caps it
    monkeypatch.setattr(openmp_team, "cgroup_cpu_count", lambda: 3)  # a container's CPU quota
    assert openmp_team.xgboost_threads(Runtime, 0) == 3


@pytest.mark.parametrize("files, expected", [
    ({"/sys/fs/cgroup/cpu.max": "150000 100000\n"}, 2),  # v2: rounded up
    ({"/sys/fs/cgroup/cpu.max": "max 100000\n"}, -1),  # v2: no quota
    ({"/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "250000\n", "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n"}, 2),
    ({"/sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1\n", "/sys/fs/cgroup/cpu/cpu.cfs_period_us": "100000\n"}, -1),
    ({}, -1),
])
def test_cgroup_cpu_quota_read_as_xgboost_reads_it(monkeypatch, files, expected):
    import builtins
    import io

    real_open = builtins.open

    def fake_open(path, *args, **kwargs):
        if str(path).startswith("/sys/fs/cgroup"):
            if path not in files:
                raise FileNotFoundError(path)
            return io.StringIO(files[path])
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(openmp_team.os.path, "exists", lambda path: path in files)
    assert openmp_team.cgroup_cpu_count() == expected


def test_booster_threads_from_params():
    from boostfocal.adapters.xgboost_train import _booster_threads

    assert _booster_threads({}) == 0
    assert _booster_threads({"nthread": 3}) == 3
    assert _booster_threads({"n_jobs": 5}) == 5
    assert _booster_threads({"nthread": 2, "n_jobs": 7}) == 2
    assert _booster_threads({"n_jobs": -1}) == -1  # XGBoost's "all", as 0
    assert _booster_threads({"nthread": "4"}) == 4
    assert _booster_threads({"nthread": None}) == 0


def test_what_the_team_does_not_take_returns_none(team):
    labels, raw, alpha, weights = multiclass_inputs(10_000, 3)
    out = [np.empty_like(raw), np.empty_like(raw)]
    assert team.multiclass(labels, raw.astype(np.float64), alpha, weights, 2.0, 0, 0.0, *out) is None
    assert team.multiclass(labels.astype(np.float64), raw, alpha, weights, 2.0, 0, 0.0, *out) is None
    assert team.multiclass(labels, np.asfortranarray(raw), alpha, weights, 2.0, 0, 0.0, *out) is None
    assert team.multiclass(labels[:-1], raw, alpha, weights, 2.0, 0, 0.0, *out) is None  # shapes
    assert team.multiclass(labels, raw, alpha, np.ones(5), 2.0, 0, 0.0, *out) is None
    assert team.binary(labels, raw[:, 0].copy(), np.array([0.5, 0.5]), weights, 2.0, 0, 0.0, False,
                       np.empty(0, np.float32), np.empty(0, np.float32)) is None  # (0,) outputs
    small = multiclass_inputs(2048, 3)  # one chunk: the calling thread, as run_kernel does
    assert team.multiclass(*small, 2.0, 0, 0.0, np.empty_like(small[1]), np.empty_like(small[1])) is None
    # The loss then computes it the ordinary way: here on the calling thread, by the serial
    # kernel's compilation for these argument types (float32 C, writable), which the tests above
    # made, rather than compiling the kernel for float64 inputs in this process only for this check.
    loss = FocalLoss(2.0, hessian="exact")
    expected = [np.empty_like(small[1]), np.empty_like(small[1])]
    multiclass.focal_loss_gradient_hessian.serial(*small, 2.0, multiclass.HESSIAN_EXACT, 0.0, *expected)
    got = [np.full_like(small[1], np.nan), np.full_like(small[1], np.nan)]
    loss._gradient_hessian_into(*small, *got, team)
    np.testing.assert_array_equal(got[0], expected[0])
    np.testing.assert_array_equal(got[1], expected[1])


def test_the_team_takes_calls_from_its_size_on(monkeypatch):
    rule = TEAM_RULE
    monkeypatch.setattr(openmp_team, "TEAM_FROM_ENTRIES", rule)  # the rule as shipped, here
    sized = openmp_team.team_of(xgboost_capi.library_path(), 2)
    if sized is None:
        pytest.skip("no team here (one kernel thread)")
    assert sized.from_entries == rule
    # Binary rows weigh binary.focal_loss_gradient_hessian.cost_per_entry (1.5) multiclass entries.
    binary_cost = binary.focal_loss_gradient_hessian.cost_per_entry
    for n, taken in ((int(rule / binary_cost) - 1, False), (int(rule / binary_cost) + 1, True)):
        rng = np.random.default_rng(n)
        labels, raw = (rng.random(n) < 0.3).astype(np.float32), rng.normal(size=n).astype(np.float32)
        got = [np.full_like(raw, np.nan), np.full_like(raw, np.nan)]
        result = sized.binary(labels, raw, np.array([0.5, 0.5]), np.empty(0), 2.0, binary.HESSIAN_PSD, 1e-6,
                              False, *got)
        assert (result is not None) == taken
        assert np.isnan(got[0]).all() != taken  # declined: nothing written, the caller computes it
        losses = np.full(n, np.nan)
        result = sized.binary_loss(labels, raw, np.array([0.5, 0.5]), np.empty(0), 2.0, binary.HESSIAN_PSD, 1e-6,
                                   False, losses)
        assert (result is not None) == taken and np.isnan(losses).all() != taken
    k = 5
    for n, taken in ((rule // k - 1, False), (rule // k, True)):
        labels, raw, alpha, weights = multiclass_inputs(n, k, seed=n)
        got = [np.full_like(raw, np.nan), np.full_like(raw, np.nan)]
        assert (sized.multiclass(labels, raw, alpha, weights, 2.0, 1, 1e-6, *got) is not None) == taken
        assert (sized.multiclass_loss(labels, raw, alpha, weights, 2.0, np.empty(n)) is not None) == taken
    # Through a training: the same booster whether its calls run on the team or not.
    used = record_team_runs(monkeypatch)
    loss = BinaryFocalLoss(2.0)
    rng = np.random.default_rng(5)
    X = rng.normal(size=(20_000, 4)).astype(np.float32)
    y = (X[:, 0] + rng.normal(size=20_000) > 0).astype(np.int64)
    small = train(loss, X, y, rounds=3, nthread=2)  # 30,000 weighted entries: below the rule
    assert used == [("binary", False)] * 3
    monkeypatch.setattr(openmp_team, "TEAM_FROM_ENTRIES", 0)
    used.clear()
    np.testing.assert_array_equal(train(loss, X, y, rounds=3, nthread=2), small)
    assert used == [("binary", True)] * 3


def test_one_thread_or_the_switch_means_no_team(monkeypatch):
    library = xgboost_capi.library_path()
    assert openmp_team.team_of(library, 1) is None  # nthread=1
    threads.set_kernel_threads(1)
    try:
        assert openmp_team.team_of(library, 8) is None
    finally:
        threads.set_kernel_threads(None)
    monkeypatch.setattr(threads, "_pool_inherited", True)  # a fork child of a running pool
    assert openmp_team.team_of(library, 8) is None
    monkeypatch.undo()
    from boostfocal.adapters import xgboost_train

    monkeypatch.setenv("BOOSTFOCAL_OPENMP_TEAM", "0")
    assert xgboost_train._openmp_team(8) is None
    assert openmp_team.team_of("/nonexistent/libxgboost.so", 8) is None


def record_team_runs(monkeypatch):
    """A list that each OpenMPTeam._run call appends (kind, whether the team took it) to."""
    runs = []
    original = openmp_team.OpenMPTeam._run

    def recording(self, kind, *args, **kwargs):
        result = original(self, kind, *args, **kwargs)
        runs.append((kind, result is not None))  # list.append is atomic under the GIL
        return result

    monkeypatch.setattr(openmp_team.OpenMPTeam, "_run", recording)
    return runs


def train(loss, X, y, rounds=12, weights=None, **params):
    dtrain = xgboost.DMatrix(X, label=y, weight=weights)
    base = {"tree_method": "hist", "max_depth": 4}
    if not loss.is_binary:
        base["num_class"] = int(y.max()) + 1
    booster = loss.xgboost_train({**base, **params}, dtrain, rounds, verbose_eval=False)
    return booster.predict(dtrain, output_margin=True)


@pytest.mark.parametrize("loss", [FocalLoss(2.0, alpha="balanced"), BinaryFocalLoss(2.0, alpha=0.3)],
                         ids=["multiclass", "binary"])
def test_xgboost_train_grows_the_same_booster_with_and_without_the_team(loss, monkeypatch):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs NUMBA_NUM_THREADS >= 2")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30_000, 8)).astype(np.float32)
    k = 2 if loss.is_binary else 5
    y = np.argmax(X[:, :k] + rng.normal(size=(30_000, k)), axis=1)
    used = record_team_runs(monkeypatch)
    weights = rng.random(len(y)) + 0.5
    with_team = [train(loss, X, y, nthread=2), train(loss, X, y, weights=weights)]
    assert len(used) == 24 and all(taken for _, taken in used)  # every round's kernel ran on XGBoost's team
    monkeypatch.setenv("BOOSTFOCAL_OPENMP_TEAM", "0")
    used.clear()
    without = [train(loss, X, y, nthread=2), train(loss, X, y, weights=weights)]
    assert not used
    for a, b in zip(with_team, without):
        np.testing.assert_array_equal(a, b)


def test_concurrent_trainings_on_their_own_teams_equal_one_at_a_time(monkeypatch):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs NUMBA_NUM_THREADS >= 2")
    used = record_team_runs(monkeypatch)
    rng = np.random.default_rng(4)
    X = rng.normal(size=(20_000, 6)).astype(np.float32)
    y = np.argmax(X[:, :4] + rng.normal(size=(20_000, 4)), axis=1)
    loss = FocalLoss(2.0)
    expected = train(loss, X, y, rounds=6, nthread=2)
    results, errors = [None] * 3, []

    def work(i):
        try:
            results[i] = train(loss, X, y, rounds=6, nthread=2)
        except Exception as error:  # noqa: BLE001 (reported below)
            errors.append(error)

    workers = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert not errors, errors
    assert len(used) == 4 * 6 and all(taken for _, taken in used)  # four trainings of 6 rounds, all on a team
    for result in results:
        np.testing.assert_array_equal(result, expected)


# ------------------------------------------------------------------ the focal metric on the team
@pytest.mark.parametrize("n", [2049, 65_537])
@pytest.mark.parametrize("weighted", [False, True])
def test_multiclass_losses_on_the_team_equal_the_serial_kernel_to_the_bit(team, n, weighted):
    labels, raw, alpha, weights = multiclass_inputs(n, 5, seed=n + 1, weighted=weighted)
    expected = np.empty(n)
    found = multiclass.focal_loss_per_sample.serial(labels, raw, alpha, weights, 1.7, expected)
    got = np.full(n, np.nan)
    assert team.multiclass_loss(labels, raw, alpha, weights, 1.7, got) == tuple(found) == (-1, -1)
    np.testing.assert_array_equal(got, expected)
    # And the metric: the same float, the sum taken over the same values.
    loss = FocalLoss(1.7, alpha)
    taken = []
    original = team._run
    team._run = lambda *args, **kwargs: taken.append(original(*args, **kwargs)) or taken[-1]
    try:
        on_team = loss._mean_loss(labels, raw, weights if weighted else None, team)
    finally:
        del team._run
    assert taken and taken[0] is not None
    assert on_team == loss.mean_loss(labels, raw, weights if weighted else None)


@pytest.mark.parametrize("soft_labels", [False, True])
def test_binary_losses_on_the_team_equal_the_serial_kernel_to_the_bit(team, soft_labels):
    rng = np.random.default_rng(8)
    n = 50_001
    labels = (rng.random(n) if soft_labels else (rng.random(n) < 0.2)).astype(np.float32)
    raw = (rng.normal(size=n) * 5).astype(np.float32)
    raw[::101] = -1e4
    alpha, weights, skip = np.array([0.3, 0.7]), rng.random(n), np.empty(0, np.float32)
    expected = np.empty(n)
    found = binary.focal_loss_gradient_hessian.serial(labels, raw, alpha, weights, 0.5, binary.HESSIAN_EXACT,
                                                      1e-6, soft_labels, expected, skip, skip)
    got = np.full(n, np.nan)
    result = team.binary_loss(labels, raw, alpha, weights, 0.5, binary.HESSIAN_EXACT, 1e-6, soft_labels, got)
    assert result == tuple(found) == (-1, -1)
    np.testing.assert_array_equal(got, expected)


def test_losses_on_the_team_find_the_first_bad_row_and_input_and_refuse_other_inputs(team):
    labels, raw, alpha, weights = multiclass_inputs(40_000, 4, weighted=True)
    raw[35_000, 1], raw[9_999, 3] = np.inf, np.nan
    weights[30_000] = -1.0
    got = np.empty(40_000)
    assert team.multiclass_loss(labels, raw, alpha, weights, 2.0, got) == (9_999, 30_000)
    assert np.isnan(got[9_999]) and np.isnan(got[35_000])
    # Not taken: float32 losses, a short loss vector, float64 margins, one chunk of rows.
    assert team.multiclass_loss(labels, raw, alpha, weights, 2.0, got.astype(np.float32)) is None
    assert team.multiclass_loss(labels, raw, alpha, weights, 2.0, got[:-1]) is None
    assert team.multiclass_loss(labels, raw.astype(np.float64), alpha, weights, 2.0, got) is None
    assert team.multiclass_loss(labels[:2048], raw[:2048], alpha, weights[:2048], 2.0, got[:2048]) is None
    # Through the loss, the error names the problem.
    with pytest.raises(ValueError, match="non-negative"):
        FocalLoss(2.0)._mean_loss(labels, raw, weights, team)


@pytest.mark.parametrize("loss", [FocalLoss(2.0, alpha="balanced"), BinaryFocalLoss(2.0, alpha=0.3)],
                         ids=["multiclass", "binary"])
def test_evaluation_metric_on_the_team_gives_the_same_history(loss, monkeypatch):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs NUMBA_NUM_THREADS >= 2")
    rng = np.random.default_rng(6)
    X = rng.normal(size=(30_000, 6)).astype(np.float32)
    k = 2 if loss.is_binary else 4
    y = np.argmax(X[:, :k] + rng.normal(size=(30_000, k)), axis=1)
    weights = rng.random(len(y)) + 0.5
    dtrain = xgboost.DMatrix(X[:20_000], label=y[:20_000], weight=weights[:20_000])
    dvalid = xgboost.DMatrix(X[20_000:], label=y[20_000:], weight=weights[20_000:])
    params = {"tree_method": "hist", "max_depth": 3, **({} if loss.is_binary else {"num_class": k})}
    kinds = record_team_runs(monkeypatch)
    histories = []
    for switch in ("1", "0"):
        monkeypatch.setenv("BOOSTFOCAL_OPENMP_TEAM", switch)
        history = {}
        loss.xgboost_train(params, dtrain, 8, evals=[(dtrain, "train"), (dvalid, "valid")],
                           evals_result=history, verbose_eval=False)
        histories.append(history)
    loss_kind = "binary_loss" if loss.is_binary else "multiclass_loss"
    assert kinds.count((loss_kind, True)) == 16  # both sets, every round, on XGBoost's team
    assert histories[0] == histories[1] and len(histories[0]["valid"]["focal_loss"]) == 8
