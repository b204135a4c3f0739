"""Security datasets for the warehouse: the synthetic generator (`hunthub data generate`, also the demo set
written on first `hunthub up`) with planted attacks and their answer key, and the place ingest lives.

generate.py orchestrates; population.py is the one set of accounts, hosts and addresses every source shares;
auth.py, process.py and network.py make the everyday rows; scenarios.py plants the attacks; reference.py makes the
asset inventory, scan findings and threat intel; tables.py holds the schemas.
"""
