"""The ground a plan stands on: road networks and highway corridors, boundaries and regions,
population and demand, traffic flows, candidate sites and the distances between them.

``model`` holds the :class:`~planner.ground.model.Ground` a strategy plans on; ``build`` makes the
city and national grounds from the pieces.
"""
