"""Port sizing: how many charging ports (or piles) a site needs for the demand it serves.

The model is an M/M/c queue (Erlang C). Vehicles arrive at ``arrivals_per_h`` and hold a port for
``session_h`` hours; the site gets the fewest ports ``c`` whose mean wait in the queue is at most
``target_wait_min`` (and never fewer than ``min_ports``). Erlang C is the standard model for
charging-station queues (e.g. Zenginis et al. 2016, Bae & Kwasinski 2012); its assumptions
(Poisson arrivals, exponential sessions) are stated in the results rather than hidden.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from planner.core.errors import InputError


@dataclass(frozen=True)
class PortType:
    """A kind of charging port.

    Attributes
    ----------
    name
        ``"dc"`` or ``"ac"`` (or a more specific label).
    power_kw
        Rated power per port.
    session_h
        Mean time a vehicle holds the port.
    """

    name: str
    power_kw: float
    session_h: float

    def __post_init__(self) -> None:
        if not (self.power_kw > 0 and math.isfinite(self.power_kw)):
            raise InputError(f"power_kw: expected > 0, got {self.power_kw!r}")
        if not (self.session_h > 0 and math.isfinite(self.session_h)):
            raise InputError(f"session_h: expected > 0, got {self.session_h!r}")


def erlang_c_wait_probability(servers: int, offered_erlangs: float) -> float:
    """Probability that an arrival waits in an M/M/c queue (Erlang C formula).

    Parameters
    ----------
    servers
        Number of ports ``c`` (>= 1).
    offered_erlangs
        Offered load ``a = arrival rate x mean session time``.

    Returns
    -------
    float
        ``P(wait > 0)``; 1.0 when the queue is unstable (``a >= c``).
    """
    if servers < 1:
        raise InputError(f"servers: expected >= 1, got {servers}")
    a = float(offered_erlangs)
    if a < 0 or not math.isfinite(a):
        raise InputError(f"offered_erlangs: expected a finite number >= 0, got {offered_erlangs!r}")
    if a == 0:
        return 0.0
    if a >= servers:
        return 1.0
    # Erlang B by the stable recursion, then Erlang C from B.
    b = 1.0
    for k in range(1, servers + 1):
        b = a * b / (k + a * b)
    rho = a / servers
    return b / (1.0 - rho + rho * b)


def mean_wait_h(servers: int, arrivals_per_h: float, session_h: float) -> float:
    """Mean wait in queue (hours) of an M/M/c queue; ``inf`` when unstable."""
    a = arrivals_per_h * session_h
    if a >= servers:
        return math.inf
    if a == 0:
        return 0.0
    return erlang_c_wait_probability(servers, a) * session_h / (servers - a)


def ports_for_load(
    arrivals_per_h: float,
    *,
    session_h: float,
    target_wait_min: float = 5.0,
    min_ports: int = 1,
    max_ports: int = 10_000,
) -> int:
    """Fewest ports whose Erlang-C mean wait is at most ``target_wait_min`` minutes.

    Parameters
    ----------
    arrivals_per_h
        Peak-hour arrival rate of vehicles wanting a port.
    session_h
        Mean session length in hours.
    target_wait_min
        Target mean wait in the queue, minutes (> 0).
    min_ports
        Floor (e.g. the NEVI minimum of 4 DC ports).
    max_ports
        Cap; an InputError is raised if even this many ports miss the target.
    """
    if arrivals_per_h < 0 or not math.isfinite(arrivals_per_h):
        raise InputError(f"arrivals_per_h: expected a finite number >= 0, got {arrivals_per_h!r}")
    if target_wait_min <= 0:
        raise InputError(f"target_wait_min: expected > 0, got {target_wait_min!r}")
    if min_ports < 0:
        raise InputError(f"min_ports: expected >= 0, got {min_ports!r}")
    target_h = target_wait_min / 60.0
    load = arrivals_per_h * session_h
    c = max(min_ports, 1, math.floor(load) + 1)
    while c <= max_ports:
        if mean_wait_h(c, arrivals_per_h, session_h) <= target_h:
            return max(c, min_ports) if load > 0 else max(min_ports, 0)
        c += 1
    raise InputError(
        f"arrivals_per_h: {arrivals_per_h:.1f} vehicles/h needs more than "
        f"max_ports={max_ports} ports; "
        "split the demand over more sites"
    )


def ports_for_loads(
    arrivals_per_h: np.ndarray,
    *,
    session_h: float,
    target_wait_min: float = 5.0,
    min_ports: int = 1,
) -> np.ndarray:
    """Vectorised :func:`ports_for_load` over many sites (memoised on rounded loads)."""
    arrivals = np.asarray(arrivals_per_h, dtype=float)
    if arrivals.size and (not np.all(np.isfinite(arrivals)) or arrivals.min() < 0):
        raise InputError(
            "arrivals_per_h: expected finite numbers >= 0; found NaN, inf or a negative value"
        )
    keys = np.round(arrivals, 3)
    uniq, inverse = np.unique(keys, return_inverse=True)
    sized = np.array(
        [
            ports_for_load(
                float(a), session_h=session_h, target_wait_min=target_wait_min, min_ports=min_ports
            )
            for a in uniq
        ],
        dtype=np.int64,
    )
    return sized[inverse.reshape(arrivals.shape)]
