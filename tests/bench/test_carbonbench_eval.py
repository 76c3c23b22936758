import numpy as np
import pytest

from sciml.bench.carbonbench import (
    C_PER_CO2,
    M_AIR,
    M_CO2,
    decorrelation_time,
    evaluate_rollouts,
    global_co2_mass_pgc,
    mass_rmse_pgc,
    quarter_restarts,
    r2,
    relative_mass_drift,
    rmse_ppm,
    to_ppm,
)

LAT = np.linspace(-87.1875, 87.1875, 8)


def _field(seed=0, shape=(3, 2, 8, 16)):
    return 400 + np.random.default_rng(seed).normal(size=shape)


def test_perfect_prediction():
    y = _field()
    assert np.allclose(rmse_ppm(y, y, LAT), 0)
    assert np.allclose(r2(y, y, LAT), 1)
    assert np.allclose(r2(2 * y + 5, y, LAT), 1)  # Pearson: affine maps correlate perfectly


def test_constant_offset_and_units():
    y = _field(1)
    # +1 (1e-6 kg/kg) everywhere is 28.97/44.01 ppm
    assert np.allclose(rmse_ppm(y + 1.0, y, LAT), M_AIR / M_CO2)
    assert np.isclose(to_ppm(1.0), 0.658259, rtol=1e-5)


def test_weighting_by_hand():
    y = np.zeros((1, 2, 2))  # L=1, 2 lats, 2 lons
    p = np.zeros_like(y)
    p[0, 0, :] = 1.0  # error only in the first row
    lat = np.array([-60.0, 0.0])
    w0, w1 = np.cos(np.deg2rad(60)), 1.0
    expected = np.sqrt(w0 * 1.0 / (w0 + w1)) * M_AIR / M_CO2
    assert np.isclose(rmse_ppm(p, y, lat), expected)
    # r2 by hand with weights
    t = np.array([[[1.0, 2.0], [3.0, 5.0]]])
    q = np.array([[[1.5, 2.0], [2.0, 6.0]]])
    w = np.array([[w0, w0], [w1, w1]])
    mx, my = (w * q).sum() / w.sum(), (w * t).sum() / w.sum()
    c = (w * (q - mx) * (t - my)).sum()
    expect = c * c / ((w * (q - mx) ** 2).sum() * (w * (t - my) ** 2).sum())
    assert np.isclose(r2(q, t, lat), expect)
    assert r2(q, t, lat) < 1


def test_mass_metrics():
    y = _field(2)
    m = np.full(y.shape, 0.5)  # Pg per cell
    total = global_co2_mass_pgc(y, m)
    assert np.allclose(total, y.sum((1, 2, 3)) * 1e-6 * 0.5 / C_PER_CO2)
    # +1e-6 kg/kg on 256 cells of 0.5 Pg -> 128e-6 Pg CO2
    assert np.allclose(mass_rmse_pgc(y + 1.0, y, m), 128e-6 / C_PER_CO2)


def test_decorrelation_time():
    days = np.arange(0, 91, dtype=float)
    curve = np.exp(-days / 100.0)  # drops below 0.9 at 100 ln(1/0.9) = 10.536 days
    assert np.isclose(decorrelation_time(days, curve), 100 * np.log(1 / 0.9), atol=0.01)
    assert decorrelation_time(days, np.ones_like(days)) == float("inf")
    with pytest.raises(ValueError):
        decorrelation_time(days, curve[:-1])


def test_quarter_restarts_and_drift():
    times = np.arange("2018-01-01T00", "2019-01-01T00", 6, dtype="datetime64[h]")
    idx = quarter_restarts(times, n_steps=400)  # 100 days: Oct 1 runs past the year
    assert [str(times[i])[:10] for i in idx] == ["2018-01-01", "2018-04-01", "2018-07-01"]
    mass = np.array([1.0, 1.0 + 1e-13, 1.0 + 3e-13])
    amax, step = relative_mass_drift(mass)
    assert np.isclose(amax, 3e-13) and np.isclose(step, 2e-13)


def test_evaluate_rollouts_with_offset_model():
    T = 40
    q = _field(3, (T, 2, 8, 16))
    m = np.ones_like(q)

    def rollout(s, n):  # errors grow by 0.01 per step (uniform offset)
        return q[s:s + n + 1] + 0.01 * np.arange(n + 1)[:, None, None, None]

    sc = evaluate_rollouts(rollout, q, m, LAT, starts=[0, 10], n_steps=28, dt_hours=6, lead_days=(7,))
    assert np.isclose(sc.at[7]["rmse_ppm"], 0.28 * M_AIR / M_CO2)
    assert np.isclose(sc.at[7]["r2"], 1.0)
    assert np.isclose(sc.at[7]["mass_rmse_pgc"], 0.28 * 256 * 1e-6 / C_PER_CO2)
    assert sc.decorrelation_days == float("inf") and sc.n_restarts == 2
    with pytest.raises(ValueError, match="start"):
        evaluate_rollouts(rollout, q, m, LAT, starts=[30], n_steps=28)
