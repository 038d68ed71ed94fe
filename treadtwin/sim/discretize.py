"""Exact discretisation of small linear systems, for the fixed-step plant.

For ``x' = A x + B u`` with ``u`` held over a step ``h`` (zero-order hold),

- ``x(h) = Phi x0 + Psi B u`` with ``Phi = exp(A h)``, ``Psi = int_0^h exp(A s) ds``;
- ``int_0^h x dt = Psi x0 + Lam B u`` with ``Lam = int_0^h int_0^s exp(A r) dr ds``.

For a 2x2 ``A`` these are ``f(A h)`` for the scalar functions ``exp(z)``,
``phi1(z) = (e^z - 1)/z`` and ``phi2(z) = (e^z - 1 - z)/z^2`` (times ``h``
and ``h^2``), and any analytic ``f`` of a 2x2 matrix ``M`` is
``c0 I + c1 M`` (Cayley-Hamilton) with coefficients from ``f`` at the two
eigenvalues, or from ``f`` and ``f'`` when they coincide. Small arguments
use series, so the results stay accurate for stiff and for nearly static
systems alike. The step is exact for the linear part however stiff it is,
which is why the plant can take 1 ms steps through a 5 ms armature time
constant without losing accuracy.
"""

from __future__ import annotations

import cmath
import math

import numba as nb

_SERIES_BELOW = 1e-3  # |z| below which phi1, phi2 use their Taylor series
_REPEATED_BELOW = 1e-7  # |z1 - z2| below which eigenvalues count as repeated


@nb.njit(cache=True)
def _phi0(z: complex) -> complex:
    return cmath.exp(z)


@nb.njit(cache=True)
def _phi1(z: complex) -> complex:
    if abs(z) < _SERIES_BELOW:
        return 1.0 + z / 2.0 + z * z / 6.0 + z * z * z / 24.0
    return (cmath.exp(z) - 1.0) / z


@nb.njit(cache=True)
def _phi2(z: complex) -> complex:
    if abs(z) < _SERIES_BELOW:
        return 0.5 + z / 6.0 + z * z / 24.0 + z * z * z / 120.0
    return (cmath.exp(z) - 1.0 - z) / (z * z)


@nb.njit(cache=True)
def _dphi(which: int, z: complex) -> complex:
    """Derivative of phi_which at z (for repeated eigenvalues)."""
    if which == 0:
        return cmath.exp(z)
    if abs(z) < _SERIES_BELOW:
        if which == 1:
            return 0.5 + z / 3.0 + z * z / 8.0
        return 1.0 / 6.0 + z / 12.0 + z * z / 40.0
    if which == 1:  # d/dz (e^z - 1)/z = (z e^z - e^z + 1)/z^2
        return (z * cmath.exp(z) - cmath.exp(z) + 1.0) / (z * z)
    # d/dz (e^z - 1 - z)/z^2 = (z e^z - 2 e^z + 2 + z)/z^3
    return (z * cmath.exp(z) - 2.0 * cmath.exp(z) + 2.0 + z) / (z * z * z)


@nb.njit(cache=True)
def _phi(which: int, z: complex) -> complex:
    if which == 0:
        return _phi0(z)
    if which == 1:
        return _phi1(z)
    return _phi2(z)


@nb.njit(cache=True)
def matrix_phi(which: int, m11: float, m12: float, m21: float, m22: float):
    """``phi_which(M)`` for a real 2x2 matrix ``M``, returned as (p11, p12, p21, p22)."""
    half_trace = 0.5 * (m11 + m22)
    det = m11 * m22 - m12 * m21
    disc = cmath.sqrt(complex(half_trace * half_trace - det))
    z1 = half_trace + disc
    z2 = half_trace - disc
    if abs(z1 - z2) < _REPEATED_BELOW:
        z = complex(half_trace)
        c1 = _dphi(which, z)
        c0 = _phi(which, z) - z * c1
    else:
        f1 = _phi(which, z1)
        f2 = _phi(which, z2)
        c1 = (f1 - f2) / (z1 - z2)
        c0 = (z1 * f2 - z2 * f1) / (z1 - z2)
    a = c0.real
    b = c1.real
    return a + b * m11, b * m12, b * m21, a + b * m22


@nb.njit(cache=True)
def scalar_step(x0: float, a: float, b_u: float, h: float):
    """Exact step of ``x' = a x + b_u``: returns (x(h), integral of x over the step)."""
    z = complex(a * h)
    phi0 = math.exp(a * h)
    phi1 = _phi1(z).real
    phi2 = _phi2(z).real
    return phi0 * x0 + h * phi1 * b_u, h * phi1 * x0 + h * h * phi2 * b_u
