"""S3 Inventory reports: the object owners and object ACL grants that no log shows until someone uses them.

`manifest` reads and checks a report's manifest.json, `reader` aggregates its data files in the engine (CSV and
Parquet in DuckDB, ORC through pyarrow), `reports` picks the latest report per configuration on disk and checks
each data file's MD5, `remote` fetches the latest reports from their S3 destination into the cache. The result
joins the log evidence in the plan stage (planner.plan.object_acls), never the evidence itself.
"""

from planner.sources.inventory.source import InventoryReports

__all__ = ["InventoryReports"]
