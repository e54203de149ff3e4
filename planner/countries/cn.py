"""China: 31 mainland provinces, National Expressways, 2020 census prefectures."""

from __future__ import annotations

from planner.countries._profile import CountryProfile

PROFILE = CountryProfile(
    code="cn",
    name="China",
    crs="+proj=aea +lat_1=25 +lat_2=47 +lon_0=105 +datum=WGS84 +units=m +no_defs",
    bbox=(73.0, 18.0, 135.5, 53.6),
    osm_bbox=(73.0, 18.0, 135.0, 54.0),
    default_strategy="china-pile-swap",
    region_file="cn_provinces.csv",
    boundary_file="boundaries_cn.geojson",
    credit="province boundaries: Natural Earth (public domain), simplified by "
    "FTChinese/map-geojson (MIT, © 2016 FTChinese); prefecture population: leiii/census "
    "(MIT, © 2022 Lei Dong)",
    route_table="cn_expressways.csv",
    route_length_unit="km",
    demand_file="cn_prefectures.csv",
    demand_source="China 2020 census prefectures (leiii/census) spread over GeoNames places",
    max_ports_fact="cn_max_piles_per_station",
    mean_flow_fact="cn_mean_corridor_aadt_veh_day",
    population_param="cn_population",
    boundary_extra=("HK", "MO", "TW"),  # not mainland provinces: kept only with include_sar
    demand_spread_over_places=True,
    ev_national_series="cn_nev_stock_national.csv",
    ev_stock_basis="nev",
    admin1_numeric=True,
    ref_style="compact",
)
