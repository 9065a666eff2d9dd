"""Evidence at organisation scale, from Amazon Athena.

`sql` writes the CloudTrail table's DDL (partition projection) and the evidence query with the window's
partition predicates; `access_log_sql` does the same for server access log tables, alone or with CloudTrail;
`client` runs the query through pyathena and caches the result; `console_csv` reads a result downloaded from
the Athena console. The query text itself is `planner.sources.base`'s, shared with local runs.
"""
