"""The exact discretisation against scipy's matrix exponential and quadrature."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad_vec
from scipy.linalg import expm

from treadtwin.sim.discretize import matrix_phi, scalar_step


def _phi_reference(m: np.ndarray):
    phi0 = expm(m)
    phi1 = quad_vec(lambda s: expm(m * s), 0.0, 1.0, epsrel=1e-12)[0]
    phi2 = quad_vec(lambda s: (1 - s) * expm(m * s), 0.0, 1.0, epsrel=1e-12)[0]
    return phi0, phi1, phi2


@pytest.mark.parametrize(
    "m",
    [
        [[-0.15, -0.002], [0.27, -0.00004]],  # home armature + belt over 1 ms: real poles
        [[-5.0, -3.0], [3.0, -0.1]],  # stiff, complex poles
        [[-1e-9, 0.0], [0.0, -1e-9]],  # nearly static
        [[-0.5, 1.0], [0.0, -0.5]],  # repeated eigenvalue
        [[0.0, 0.0], [0.0, -2e-5]],  # a pure integrator (no motor)
    ],
)
def test_matrix_functions_match_expm_and_quadrature(m):
    m = np.array(m)
    for which, reference in enumerate(_phi_reference(m)):
        got = np.array(matrix_phi(which, m[0, 0], m[0, 1], m[1, 0], m[1, 1])).reshape(2, 2)
        np.testing.assert_allclose(got, reference, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("a", [-200.0, -1.0, -1e-7, 0.0, 3.0])
def test_scalar_step_is_exact(a):
    x0, b, h = 0.7, 2.5, 0.01
    x1, integral = scalar_step(x0, a, b, h)

    def x(t):  # expm1 keeps the tiny-a cases accurate
        return np.exp(a * t) * x0 + (b * t if a == 0 else b * np.expm1(a * t) / a)

    exact = quad_vec(lambda t: np.array([x(t)]), 0.0, h, epsrel=1e-13)[0][0]
    end = x(h)
    assert x1 == pytest.approx(end, rel=1e-12)
    assert integral == pytest.approx(exact, rel=1e-10)
