"""The simulator's light-use-efficiency GPP model and its exact local sensitivities.

    GPP = eps * fAPAR * PAR * f(T) * f(water)                                  [gC m-2 d-1]

* ``PAR = 0.45 * SSRD / (days * 1e6)``: mean daily PAR, MJ m-2 d-1, from the period's
  ``surface_solar_radiation_downwards_sum``.
* ``fAPAR = (1 - exp(-0.5 * LAI_eff)) * (1 - shed * (1 - W_prev))``: Beer's law on
  ``LAI_eff = LAI_high + LAI_low * (1 - 0.9 * snow_cover / 100)`` (snow buries low vegetation),
  reduced by drought deciduousness: ``W_prev`` is the exponential moving average of ``f(water)``
  over the *previous* periods (a hidden state: legacy of past droughts).
* ``f(T)``: the TEM temperature response ``(T - Tmin)(T - Tmax) / ((T - Tmin)(T - Tmax) -
  (T - Topt)^2)`` between ``Tmin = -2 degC`` and ``Tmax = Topt + 18``, zero outside; ``Topt`` is
  a hidden per-cell field (acclimated to the local growing-season climate, drifting with warming).
* ``f(water) = f_SM * f_VPD``: a smoothstep of root-zone soil water between the wilting point and
  a hidden critical point (the water-stress sensitivity), times MOD17's linear VPD ramp with VPD
  from ``temperature_2m`` and ``dewpoint_temperature_2m``.
* ``eps = LUEmax(land cover) * exp(0.25 * h_eps) * (1 + beta * ln(CO2 / CO2_2001))``: hidden
  per-cell factor (log-sd 0.25: light-use efficiency varies by 20-30 % within a vegetation type
  across flux-tower sites) and a CO2 fertilisation trend.

The ground truth written beside the samples is computed here: ``d GPP / d x_j`` for every input
variable ``x_j`` in its published unit (autograd in float64; the hidden states and fields are
held fixed, so this is the *local* sensitivity to the current period's inputs), and the limiting
factor, the smallest of the scalars ``f(T)``, ``f(water)`` and ``f(light) = min(1, PAR / 8)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from stcg.data.sim.tables import PAR_FRACTION

T_MIN_C = -2.0
T_RANGE_ABOVE_OPT = 18.0
PAR_SATURATING = 8.0  # MJ m-2 d-1, light scalar = min(1, PAR / PAR_SATURATING)
LIMITING_FACTORS = ("temperature", "water", "light")

# the published input variables the GPP function reads
GPP_INPUTS = (
    "temperature_2m",
    "dewpoint_temperature_2m",
    "surface_solar_radiation_downwards_sum",
    "volumetric_soil_water_layer_1",
    "volumetric_soil_water_layer_2",
    "volumetric_soil_water_layer_3",
    "volumetric_soil_water_layer_4",
    "leaf_area_index_high_vegetation",
    "leaf_area_index_low_vegetation",
    "snow_cover",
)


@dataclass
class GppParams:
    """Hidden per-cell parameters and states, arrays broadcastable to ``[C, P]``."""

    eps: np.ndarray  # [C, P] gC MJ-1, incl. CO2 factor
    topt: np.ndarray  # [C, P] degC
    theta_wp: np.ndarray  # [C, 1]
    theta_crit: np.ndarray  # [C, 1]
    roots: np.ndarray  # [C, 4]
    vpd_open: np.ndarray  # [C, 1] Pa
    vpd_close: np.ndarray  # [C, 1] Pa
    shed: np.ndarray  # [C, 1]
    w_prev: np.ndarray  # [C, P] EMA of f(water) up to the previous period
    days: np.ndarray  # [1, P] days in each period

    def take(self, ci: np.ndarray, pi: np.ndarray) -> GppParams:
        """The parameters of the elements ``(ci[n], pi[n])`` as ``[N, 1]`` arrays (roots ``[N, 4]``)."""
        shape = np.shape(self.w_prev)
        vals = {}
        for f in self.__dataclass_fields__:
            a = np.asarray(getattr(self, f))
            if f == "roots":
                vals[f] = a[ci]
            else:
                vals[f] = np.broadcast_to(a, shape)[ci, pi][:, None]
        return GppParams(**vals)


def sat_vapour_pressure(t_c):
    """Saturation vapour pressure (Pa) over water, Magnus (Alduchov & Eskridge 1996)."""
    lib = torch if isinstance(t_c, torch.Tensor) else np
    return 610.94 * lib.exp(17.625 * t_c / (t_c + 243.04))


def _smoothstep(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def scalars(x: dict[str, torch.Tensor], p: GppParams) -> dict[str, torch.Tensor]:
    """The GPP model's terms for inputs ``x`` (published units), all ``[C, P]`` tensors."""
    t = lambda a: torch.as_tensor(a, dtype=torch.float64)  # noqa: E731
    tc = x["temperature_2m"] - 273.15
    tdc = x["dewpoint_temperature_2m"] - 273.15
    par = PAR_FRACTION * x["surface_solar_radiation_downwards_sum"] / (t(p.days) * 1e6)

    lai_eff = x["leaf_area_index_high_vegetation"] + x["leaf_area_index_low_vegetation"] * (
        1.0 - 0.9 * x["snow_cover"] / 100.0
    )
    fapar = (1.0 - torch.exp(-0.5 * lai_eff)) * (1.0 - t(p.shed) * (1.0 - t(p.w_prev)))

    topt = t(p.topt)
    tmax = topt + T_RANGE_ABOVE_OPT
    inside = (tc > T_MIN_C) & (tc < tmax)
    a = (tc - T_MIN_C) * (tc - tmax)
    f_t = torch.where(inside, a / (a - (tc - topt) ** 2), torch.zeros_like(tc)).clamp(0.0, 1.0)

    roots = t(p.roots)
    theta = sum(roots[:, k : k + 1] * x[f"volumetric_soil_water_layer_{k + 1}"] for k in range(4))
    wp, crit = t(p.theta_wp), t(p.theta_crit)
    f_sm = _smoothstep((theta - wp) / (crit - wp))
    vpd = (sat_vapour_pressure(tc) - sat_vapour_pressure(tdc)).clamp(min=0.0)
    vo, vc = t(p.vpd_open), t(p.vpd_close)
    f_vpd = ((vc - vpd) / (vc - vo)).clamp(0.0, 1.0)
    f_w = f_sm * f_vpd
    f_l = (par / PAR_SATURATING).clamp(max=1.0)
    gpp = t(p.eps) * fapar * par * f_t * f_w
    return {"gpp": gpp, "f_temperature": f_t, "f_water": f_w, "f_light": f_l, "fapar": fapar,
            "par": par, "vpd": vpd, "theta_root": theta}


def water_scalar(x: dict[str, np.ndarray], p: GppParams) -> np.ndarray:
    """``f(water)`` alone (numpy), used to advance the drought-legacy state."""
    xt = {k: torch.as_tensor(v, dtype=torch.float64) for k, v in x.items()}
    with torch.no_grad():
        return scalars(xt, p)["f_water"].numpy()


def gpp_with_truth(
    x: dict[str, np.ndarray], p: GppParams, variables: tuple[str, ...]
) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """GPP, its terms, and ``d GPP / d x_j`` for every variable in ``variables``.

    Args:
        x: every simulated variable, ``[C, P]`` arrays in published units.
        p: the hidden parameters and states.
        variables: the published variables; those GPP does not read get a zero sensitivity.

    Returns:
        ``(gpp [C, P], terms, sensitivities)``; terms hold ``f_temperature``, ``f_water``,
        ``f_light``, ``fapar`` and ``limiting`` (index into :data:`LIMITING_FACTORS`).
    """
    xt = {
        k: torch.tensor(x[k], dtype=torch.float64, requires_grad=True) for k in GPP_INPUTS
    }
    out = scalars(xt, p)
    grads = torch.autograd.grad(out["gpp"].sum(), [xt[k] for k in GPP_INPUTS])
    sens = {}
    for v in variables:
        if v in GPP_INPUTS:
            sens[v] = grads[GPP_INPUTS.index(v)].numpy()
        else:
            sens[v] = np.zeros_like(x[GPP_INPUTS[0]])
    terms = {k: out[k].detach().numpy() for k in ("f_temperature", "f_water", "f_light", "fapar")}
    terms["limiting"] = np.argmin(
        np.stack([terms["f_temperature"], terms["f_water"], terms["f_light"]]), axis=0
    ).astype(np.int8)
    return out["gpp"].detach().numpy(), terms, sens
