"""Files in and out: OSM reading and caching, shipped tables and facts, scenario files, GeoNames
places, offline map assets, atomic writes and transactional output folders."""
