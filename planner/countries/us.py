"""The United States: 50 states + DC, primary Interstates, 2020 census tracts."""

from __future__ import annotations

from planner.countries._profile import CountryProfile

PROFILE = CountryProfile(
    code="us",
    name="United States",
    crs="EPSG:5070",  # NAD83 / Conus Albers (equal area)
    bbox=(-180.0, 18.0, -65.0, 72.0),  # incl. Alaska and Hawaii
    osm_bbox=(-125.0, 24.0, -66.0, 50.0),
    default_strategy="us-nevi",
    region_file="us_states.csv",
    boundary_file="boundaries_us.geojson",
    credit="state boundaries: Natural Earth (public domain); census tracts: US Census Bureau "
    "(public domain)",
    route_table="us_interstates.csv",
    route_length_unit="mi",
    demand_file="us_tract_centers.csv.gz",
    demand_source="US Census 2020 tract centres of population",
    max_ports_fact="us_max_ports_per_site",
    mean_flow_fact="us_mean_corridor_aadt_veh_day",
    population_param="us_population",
    map_views=(
        ("Lower 48", (24.4, -124.8, 49.4, -66.9)),
        ("Alaska", (51.2, -179.2, 71.4, -129.9)),
        ("Hawaii", (18.9, -160.3, 22.3, -154.8)),
    ),
)
