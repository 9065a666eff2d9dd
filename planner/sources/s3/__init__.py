"""Logs in Amazon S3, shared by the CloudTrail and access-log sources: `urls` parses and checks s3:// locations
without any AWS library (option checking stays light), `download` lists only the window's prefixes and fetches
the files into a local cache (boto3 is imported only when a download runs)."""
